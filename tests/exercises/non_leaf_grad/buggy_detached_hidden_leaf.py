# expect-lost: returns_two_tensors_of_the_right_shapes, input_gradient_is_correct
"""Buggy: h is detached to make it a leaf, so h.grad is filled but x is cut off and x.grad is None."""
import torch


def input_and_hidden_grads(x, w):
    x = x.clone().requires_grad_()
    h = torch.tanh(x @ w).detach().requires_grad_()
    z = (h ** 2).sum()
    z.backward()
    return x.grad, h.grad
