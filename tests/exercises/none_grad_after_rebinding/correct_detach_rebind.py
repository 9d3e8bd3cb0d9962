# expect-lost:
"""Correct: rebinding is fine as long as each new tensor is turned back into a fresh leaf."""
import torch


def fit(x, y, w0, b0, lr, steps):
    w = w0.clone().requires_grad_()
    b = b0.clone().requires_grad_()
    for _ in range(steps):
        loss = ((w * x + b - y) ** 2).mean()
        loss.backward()
        w = (w - lr * w.grad).detach().requires_grad_()
        b = (b - lr * b.grad).detach().requires_grad_()
    return w, b
