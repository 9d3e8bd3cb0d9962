# expect-lost:
"""Correct: gradients of the mean squared error written out by hand, leaves created at the end."""
import torch


def fit(x, y, w0, b0, lr, steps):
    w = w0.clone()
    b = b0.clone()
    n = x.shape[0]
    for _ in range(steps):
        residual = w * x + b - y  # shape (N, 1)
        grad_w = 2.0 * (residual * x).sum(dim=0) / n
        grad_b = 2.0 * residual.sum(dim=0) / n
        w = w - lr * grad_w
        b = b - lr * grad_b
    return w.requires_grad_(), b.requires_grad_()
