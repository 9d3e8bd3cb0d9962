# expect-lost:
"""Correct: requires grad on the caller's x (tolerated), but x.grad is cleared before every backward()."""
import torch


def input_and_hidden_grads(x, w):
    x.requires_grad_(True)
    x.grad = None
    h = torch.tanh(x @ w)
    h.retain_grad()
    z = (h ** 2).sum()
    z.backward()
    return x.grad.clone(), h.grad
