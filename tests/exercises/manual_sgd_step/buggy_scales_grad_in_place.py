# expect-lost: leaves_gradients_unchanged
"""Buggy: the gradient is scaled by lr in place before the update, so p.grad is changed."""
import torch


def sgd_step(params, lr):
    with torch.no_grad():
        for p in params:
            if p.grad is not None:
                p.grad.mul_(lr)
                p.sub_(p.grad)
