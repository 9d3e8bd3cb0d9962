# expect-lost: updates_in_place_and_keeps_leaves
"""Buggy: the in-place update is right, but the function returns the list instead of None."""
import torch


def sgd_step(params, lr):
    with torch.no_grad():
        for p in params:
            if p.grad is not None:
                p -= lr * p.grad
    return params
