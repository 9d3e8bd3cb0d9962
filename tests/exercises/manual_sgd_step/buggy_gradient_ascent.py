# expect-lost: updates_every_parameter, reproduces_worked_example
"""Buggy: the sign is wrong, so the step climbs the gradient instead of descending it."""
import torch


def sgd_step(params, lr):
    with torch.no_grad():
        for p in params:
            if p.grad is not None:
                p += lr * p.grad
