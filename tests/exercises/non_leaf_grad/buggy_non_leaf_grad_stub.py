# expect-lost: returns_two_tensors_of_the_right_shapes, hidden_gradient_is_correct
"""Buggy (the starter itself): h.grad is read after backward(), but h is not a leaf, so it is None."""
import torch


def input_and_hidden_grads(x, w):
    x = x.clone().requires_grad_()
    h = torch.tanh(x @ w)
    z = (h ** 2).sum()
    z.backward()
    return x.grad, h.grad
