# expect-lost:
"""Correct: compute the new values, then copy them into the existing memory with copy_()."""
import torch


def sgd_step(params, lr):
    for p in params:
        if p.grad is None:
            continue
        with torch.no_grad():
            new_value = p - lr * p.grad
            p.copy_(new_value)
