# expect-lost:
"""Correct: autograd switched off by hand with torch.set_grad_enabled(False), and switched back to what it was in a finally block."""
import torch


def sgd_step(params, lr):
    previous = torch.is_grad_enabled()
    torch.set_grad_enabled(False)
    try:
        for p in params:
            if p.grad is not None:
                p.add_(p.grad, alpha=-lr)
    finally:
        torch.set_grad_enabled(previous)
