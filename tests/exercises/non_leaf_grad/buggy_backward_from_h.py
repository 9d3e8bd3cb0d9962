# expect-lost: hidden_gradient_is_correct, input_gradient_is_correct
"""Buggy: the backward pass starts from h with a vector of ones, which differentiates h.sum() instead of z."""
import torch


def input_and_hidden_grads(x, w):
    x = x.clone().requires_grad_()
    h = torch.tanh(x @ w)
    h.retain_grad()
    h.backward(torch.ones_like(h))
    return x.grad, h.grad
