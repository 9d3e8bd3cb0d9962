# expect-lost:
"""Correct: old-style update through .data, gradients dropped with p.grad = None."""
import torch


def fit(x, y, w0, b0, lr, steps):
    w = torch.tensor(w0.tolist(), dtype=torch.float32, requires_grad=True)
    b = torch.tensor(b0.tolist(), dtype=torch.float32, requires_grad=True)
    for _ in range(steps):
        pred = w * x + b
        loss = ((pred - y) ** 2).mean()
        loss.backward()
        w.data -= lr * w.grad.data
        b.data -= lr * b.grad.data
        w.grad = None
        b.grad = None
    return w, b
