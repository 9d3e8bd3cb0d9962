# expect-lost: returns_leaf_parameters
"""Buggy: retain_grad() silences the None gradient and the values are right, but the returned tensors are non-leaf."""
import torch


def fit(x, y, w0, b0, lr, steps):
    w = w0.clone().requires_grad_()
    b = b0.clone().requires_grad_()
    for _ in range(steps):
        loss = ((w * x + b - y) ** 2).mean()
        loss.backward()
        w = w - lr * w.grad
        b = b - lr * b.grad
        w.retain_grad()
        b.retain_grad()
    return w, b
