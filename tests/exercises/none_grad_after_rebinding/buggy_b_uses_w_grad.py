# expect-lost: follows_gradient_descent, reproduces_classic_fit
"""Buggy: copy-paste slip, the bias is updated with the gradient of the weight."""
import torch


def fit(x, y, w0, b0, lr, steps):
    w = w0.detach().clone().requires_grad_()
    b = b0.detach().clone().requires_grad_()
    for _ in range(steps):
        loss = ((w * x + b - y) ** 2).mean()
        loss.backward()
        with torch.no_grad():
            w -= lr * w.grad
            b -= lr * w.grad
        w.grad.zero_()
        b.grad.zero_()
    return w, b
