# expect-lost: updates_every_parameter, updates_in_place_and_keeps_leaves
"""Buggy (special case non-contiguous): the update goes through p.reshape(-1), which is a view only for contiguous tensors; for a transposed or strided parameter it is a copy, and the update is lost."""
import torch


def sgd_step(params, lr):
    with torch.no_grad():
        for p in params:
            if p.grad is None:
                continue
            flat = p.reshape(-1)
            flat -= lr * p.grad.reshape(-1)
