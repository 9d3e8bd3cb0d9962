# expect-lost:
"""Correct: h is cut into a leaf for the last stage, and its gradient is sent back through the first stage."""
import torch


def input_and_hidden_grads(x, w):
    x = x.clone().requires_grad_()
    h = torch.tanh(x @ w)
    h_leaf = h.detach().requires_grad_()
    z = (h_leaf ** 2).sum()
    z.backward()          # h_leaf is a leaf: h_leaf.grad = dz/dh
    h.backward(h_leaf.grad)  # chain rule through tanh(x @ w): x.grad = dz/dx
    return x.grad, h_leaf.grad
