# expect-lost: follows_gradient_descent, reproduces_classic_fit
"""Buggy (special case N > 32): a "mini-batch" of the first 32 rows is used for every step, so larger data sets are fitted on part of the points."""
import torch

BATCH_SIZE = 32


def fit(x, y, w0, b0, lr, steps):
    xb, yb = x[:BATCH_SIZE], y[:BATCH_SIZE]
    w = w0.detach().clone().requires_grad_()
    b = b0.detach().clone().requires_grad_()
    for _ in range(steps):
        loss = ((w * xb + b - yb) ** 2).mean()
        loss.backward()
        with torch.no_grad():
            w -= lr * w.grad
            b -= lr * b.grad
        w.grad.zero_()
        b.grad.zero_()
    return w, b
