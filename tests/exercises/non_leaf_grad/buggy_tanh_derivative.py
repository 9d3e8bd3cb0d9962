# expect-lost: input_gradient_is_correct
"""Buggy: the chain rule by hand, with the derivative of tanh written as 1 - tanh instead of 1 - tanh^2."""
import torch


def input_and_hidden_grads(x, w):
    h = torch.tanh(x @ w)
    grad_h = 2 * h
    grad_x = (grad_h * (1 - h)) @ w.T
    return grad_x, grad_h
