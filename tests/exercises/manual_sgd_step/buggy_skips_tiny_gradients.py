# expect-lost: updates_every_parameter, updates_in_place_and_keeps_leaves
"""Buggy (special case tiny gradients): parameters whose gradient is below 1e-4 are skipped as "numerically zero", so parameters with tiny values and tiny gradients never move."""
import torch


def sgd_step(params, lr):
    with torch.no_grad():
        for p in params:
            if p.grad is None or p.grad.abs().max() < 1e-4:
                continue
            p -= lr * p.grad
