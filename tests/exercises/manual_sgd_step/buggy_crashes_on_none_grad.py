# expect-lost: updates_every_parameter, skips_parameters_without_grad
"""Buggy: the update is right, but a parameter whose .grad is None makes it raise TypeError."""
import torch


def sgd_step(params, lr):
    with torch.no_grad():
        for p in params:
            p -= lr * p.grad
