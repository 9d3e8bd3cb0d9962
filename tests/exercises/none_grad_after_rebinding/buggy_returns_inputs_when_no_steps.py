# expect-lost: returns_leaf_parameters
"""Buggy (special case steps == 0): the shortcut returns w0 and b0 themselves, which do not require grad."""
import torch


def fit(x, y, w0, b0, lr, steps):
    if steps == 0:
        return w0, b0  # "nothing to do"
    w = w0.detach().clone().requires_grad_()
    b = b0.detach().clone().requires_grad_()
    for _ in range(steps):
        loss = ((w * x + b - y) ** 2).mean()
        loss.backward()
        with torch.no_grad():
            w -= lr * w.grad
            b -= lr * b.grad
        w.grad.zero_()
        b.grad.zero_()
    return w, b
