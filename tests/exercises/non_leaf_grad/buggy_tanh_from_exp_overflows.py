# expect-lost: hidden_gradient_is_correct, input_gradient_is_correct
"""Buggy (large pre-activations only): tanh written from its definition overflows, exp(2u) = inf gives inf / inf = nan."""
import torch


def input_and_hidden_grads(x, w):
    u = x @ w
    e = torch.exp(2 * u)
    h = (e - 1) / (e + 1)  # tanh(u), right as long as exp(2u) is finite (u < 44 in float32)
    grad_h = 2 * h
    grad_x = (grad_h * (1 - h ** 2)) @ w.T
    return grad_x, grad_h
