# expect-lost:
"""Correct: h.retain_grad() before backward(), on a fresh copy of x."""
import torch


def input_and_hidden_grads(x, w):
    x = x.detach().clone().requires_grad_()
    h = torch.tanh(x @ w)
    h.retain_grad()
    (h ** 2).sum().backward()
    return x.grad, h.grad
