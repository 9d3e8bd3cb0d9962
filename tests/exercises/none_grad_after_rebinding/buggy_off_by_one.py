# expect-lost: follows_gradient_descent
"""Buggy: the loop starts at 1 and performs steps - 1 updates (too few to change the 500-step classic figure beyond 0.01)."""
import torch


def fit(x, y, w0, b0, lr, steps):
    w = w0.detach().clone().requires_grad_()
    b = b0.detach().clone().requires_grad_()
    for _ in range(1, steps):
        loss = ((w * x + b - y) ** 2).mean()
        loss.backward()
        with torch.no_grad():
            w -= lr * w.grad
            b -= lr * b.grad
        w.grad.zero_()
        b.grad.zero_()
    return w, b
