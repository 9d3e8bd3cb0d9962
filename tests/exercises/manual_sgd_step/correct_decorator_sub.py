# expect-lost:
"""Correct: @torch.no_grad() on the whole function and p.sub_(...) over a filtered list."""
import torch


@torch.no_grad()
def sgd_step(params, lr):
    for p in [q for q in params if q.grad is not None]:
        p.sub_(lr * p.grad)
