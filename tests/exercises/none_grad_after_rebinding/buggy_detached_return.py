# expect-lost: returns_leaf_parameters
"""Buggy: the values are right but the returned tensors are detached and no longer require grad."""
import torch


def fit(x, y, w0, b0, lr, steps):
    w = w0.detach().clone().requires_grad_()
    b = b0.detach().clone().requires_grad_()
    for _ in range(steps):
        loss = ((w * x + b - y) ** 2).mean()
        loss.backward()
        with torch.no_grad():
            w -= lr * w.grad
            b -= lr * b.grad
        w.grad.zero_()
        b.grad.zero_()
    return w.detach(), b.detach()
