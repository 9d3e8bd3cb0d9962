# expect-lost: returns_two_tensors_of_the_right_shapes, hidden_gradient_is_correct, input_gradient_is_correct
"""Buggy (B = 1 only): a single example is handled as a vector, so the gradients come back without their batch dimension."""
import torch


def input_and_hidden_grads(x, w):
    if x.shape[0] == 1:  # one example: work with vectors
        x = x[0]
    x = x.detach().clone().requires_grad_()
    h = torch.tanh(x @ w)
    h.retain_grad()
    (h ** 2).sum().backward()
    return x.grad, h.grad
