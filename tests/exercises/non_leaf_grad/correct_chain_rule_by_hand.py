# expect-lost:
"""Correct: both gradients written by hand with the chain rule, no autograd at all."""
import torch


def input_and_hidden_grads(x, w):
    h = torch.tanh(x @ w)
    grad_h = 2 * h
    grad_u = grad_h * (1 - h * h)  # d tanh(u) / du = 1 - tanh(u)^2
    grad_x = grad_u @ w.t()
    return grad_x, grad_h
