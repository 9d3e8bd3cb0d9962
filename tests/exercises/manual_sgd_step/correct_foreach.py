# expect-lost:
"""Correct: one fused torch._foreach_add_ over the parameters that have a gradient."""
import torch


def sgd_step(params, lr):
    with_grad = [p for p in params if p.grad is not None]
    if not with_grad:
        return
    with torch.no_grad():
        torch._foreach_add_(with_grad, [p.grad for p in with_grad], alpha=-lr)
