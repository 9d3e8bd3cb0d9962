# expect-lost:
"""Correct: torch.autograd.grad(z, [x, h]) returns both gradients without touching .grad."""
import torch


def input_and_hidden_grads(x, w):
    x = x.clone().requires_grad_(True)
    h = torch.tanh(torch.matmul(x, w))
    z = h.pow(2).sum()
    grad_x, grad_h = torch.autograd.grad(z, [x, h])
    return grad_x, grad_h
