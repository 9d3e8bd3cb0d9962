# expect-lost:
"""Correct: torch.autograd.grad returns the gradients directly, nothing accumulates in .grad."""
import torch


def fit(x, y, w0, b0, lr, steps):
    w = w0.detach().clone().requires_grad_()
    b = b0.detach().clone().requires_grad_()
    for _ in range(steps):
        loss = torch.mean((x * w + b - y) ** 2)
        grad_w, grad_b = torch.autograd.grad(loss, [w, b])
        with torch.no_grad():
            w.sub_(lr * grad_w)
            b.sub_(lr * grad_b)
    return w, b
