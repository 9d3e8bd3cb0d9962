# expect-lost: updates_in_place_and_keeps_leaves
"""Buggy (breaks the next call): torch.set_grad_enabled(False) is never switched back on, so the caller's next forward pass records no graph."""
import torch


def sgd_step(params, lr):
    torch.set_grad_enabled(False)
    for p in params:
        if p.grad is not None:
            p -= lr * p.grad
