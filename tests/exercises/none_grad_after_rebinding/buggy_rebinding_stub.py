# expect-lost: returns_leaf_parameters, follows_gradient_descent, reproduces_classic_fit, leaves_inputs_unchanged
"""Buggy (the starter itself): rebinding w and b to non-leaf tensors; the second step raises TypeError."""
import torch


def fit(x, y, w0, b0, lr, steps):
    w = w0.clone().requires_grad_()
    b = b0.clone().requires_grad_()
    for _ in range(steps):
        loss = ((w * x + b - y) ** 2).mean()
        loss.backward()
        w = w - lr * w.grad
        b = b - lr * b.grad
    return w, b
