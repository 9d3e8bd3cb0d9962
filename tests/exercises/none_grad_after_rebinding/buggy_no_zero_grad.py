# expect-lost: follows_gradient_descent, reproduces_classic_fit
"""Buggy: the gradients are never reset, so every step uses the sum of all gradients so far."""
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
    return w, b
