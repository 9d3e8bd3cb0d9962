# expect-lost: returns_two_tensors_of_the_right_shapes
"""Buggy: the gradients are right, but computed and returned in float64 instead of float32."""
import torch


def input_and_hidden_grads(x, w):
    x = x.double().requires_grad_()
    h = torch.tanh(x @ w.double())
    h.retain_grad()
    (h ** 2).sum().backward()
    return x.grad, h.grad
