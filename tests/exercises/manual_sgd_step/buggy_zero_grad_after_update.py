# expect-lost: leaves_gradients_unchanged
"""Buggy: the step also zeroes the gradients, which is the caller's job (optimizer.zero_grad())."""
import torch


def sgd_step(params, lr):
    with torch.no_grad():
        for p in params:
            if p.grad is not None:
                p -= lr * p.grad
                p.grad.zero_()
