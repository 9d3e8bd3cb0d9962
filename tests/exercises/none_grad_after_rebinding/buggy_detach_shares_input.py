# expect-lost: leaves_inputs_unchanged
"""Buggy: detach() without clone() shares memory with w0 and b0, so the in-place updates overwrite the inputs."""
import torch


def fit(x, y, w0, b0, lr, steps):
    w = w0.detach().requires_grad_()
    b = b0.detach().requires_grad_()
    for _ in range(steps):
        loss = ((w * x + b - y) ** 2).mean()
        loss.backward()
        with torch.no_grad():
            w -= lr * w.grad
            b -= lr * b.grad
        w.grad.zero_()
        b.grad.zero_()
    return w, b
