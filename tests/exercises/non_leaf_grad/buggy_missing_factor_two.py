# expect-lost: hidden_gradient_is_correct, input_gradient_is_correct
"""Buggy: the chain rule by hand, with d(h^2)/dh written as h instead of 2 * h."""
import torch


def input_and_hidden_grads(x, w):
    h = torch.tanh(x @ w)
    grad_h = h
    grad_x = (grad_h * (1 - h ** 2)) @ w.T
    return grad_x, grad_h
