# expect-lost:
"""Correct: torch.inference_mode() also switches autograd off for an in-place update."""
import torch


def sgd_step(params, lr):
    with torch.inference_mode():
        for p in params:
            if p.grad is not None:
                p.sub_(p.grad * lr)
    return None
