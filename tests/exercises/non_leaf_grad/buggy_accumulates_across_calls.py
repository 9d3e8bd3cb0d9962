# expect-lost: repeated_calls_agree
"""Buggy: requires_grad_() on the caller's x, so x.grad keeps growing from one call to the next."""
import torch


def input_and_hidden_grads(x, w):
    x.requires_grad_()
    h = torch.tanh(x @ w)
    h.retain_grad()
    (h ** 2).sum().backward()
    return x.grad.clone(), h.grad
