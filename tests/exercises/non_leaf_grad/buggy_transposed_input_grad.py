# expect-lost: returns_two_tensors_of_the_right_shapes, input_gradient_is_correct
"""Buggy: the chain rule by hand in the wrong order, so grad_x has shape (n, B) instead of (B, n)."""
import torch


def input_and_hidden_grads(x, w):
    h = torch.tanh(x @ w)
    grad_h = 2 * h
    grad_x = w @ (grad_h * (1 - h ** 2)).T
    return grad_x, grad_h
