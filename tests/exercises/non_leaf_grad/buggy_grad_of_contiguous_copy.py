# expect-lost: returns_two_tensors_of_the_right_shapes, input_gradient_is_correct
"""Buggy (non-contiguous x only): x.contiguous() is a copy for a transposed or strided x, so the caller's x.grad stays None."""
import torch


def input_and_hidden_grads(x, w):
    leaf = x.contiguous()  # matmul likes contiguous memory; for a contiguous x this is x itself
    leaf.requires_grad_()
    h = torch.tanh(leaf @ w)
    h.retain_grad()
    (h ** 2).sum().backward()
    grad_x = x.grad  # only x itself gets .grad: for a copy, the gradient went to leaf.grad
    x.grad = None  # clear it, so that the next call starts from zero
    return grad_x, h.grad
