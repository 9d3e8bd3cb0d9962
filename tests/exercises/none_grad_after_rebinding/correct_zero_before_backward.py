# expect-lost:
"""Correct: stale gradients cleared at the top of each iteration, update with torch.no_grad()."""
import torch


def fit(x, y, w0, b0, lr, steps):
    w = w0.detach().clone()
    b = b0.detach().clone()
    w.requires_grad = True
    b.requires_grad = True
    params = [w, b]
    for _ in range(steps):
        for p in params:
            if p.grad is not None:
                p.grad.zero_()
        residual = w * x + b - y
        loss = residual.pow(2).sum() / residual.numel()
        loss.backward()
        with torch.no_grad():
            for p in params:
                p.add_(p.grad, alpha=-lr)
    return w, b
