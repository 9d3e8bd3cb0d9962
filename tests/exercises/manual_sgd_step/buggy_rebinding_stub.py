# expect-lost: updates_every_parameter, skips_parameters_without_grad, updates_in_place_and_keeps_leaves, reproduces_worked_example
"""Buggy (the starter itself): `p = p - lr * p.grad` rebinds the loop variable, and a None grad raises TypeError."""
import torch


def sgd_step(params, lr):
    for p in params:
        p = p - lr * p.grad
