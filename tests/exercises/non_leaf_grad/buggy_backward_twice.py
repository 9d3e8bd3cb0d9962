# expect-lost: input_gradient_is_correct
"""Buggy: retain_grad() is added after a first backward(), and a second backward() doubles x.grad."""
import torch


def input_and_hidden_grads(x, w):
    x = x.clone().requires_grad_()
    h = torch.tanh(x @ w)
    z = (h ** 2).sum()
    z.backward(retain_graph=True)
    h.retain_grad()
    z.backward()
    return x.grad, h.grad
