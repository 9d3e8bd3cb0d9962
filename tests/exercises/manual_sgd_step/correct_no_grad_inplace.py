# expect-lost:
"""Correct: `p -= lr * p.grad` inside torch.no_grad(), skipping parameters without a gradient."""
import torch


def sgd_step(params, lr):
    with torch.no_grad():
        for p in params:
            if p.grad is not None:
                p -= lr * p.grad
