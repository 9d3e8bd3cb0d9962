# expect-lost: follows_gradient_descent, reproduces_classic_fit
"""Buggy: the squared errors are summed instead of averaged, so the step is N times too large."""
import torch


def fit(x, y, w0, b0, lr, steps):
    w = w0.detach().clone().requires_grad_()
    b = b0.detach().clone().requires_grad_()
    for _ in range(steps):
        loss = ((w * x + b - y) ** 2).sum()
        loss.backward()
        with torch.no_grad():
            w -= lr * w.grad
            b -= lr * b.grad
        w.grad.zero_()
        b.grad.zero_()
    return w, b
