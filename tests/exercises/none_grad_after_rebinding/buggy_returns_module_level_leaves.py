# expect-lost: follows_gradient_descent
"""Buggy (second call): every call reuses and returns the same module-level leaves, so a later fit overwrites the w and b an earlier fit returned."""
import torch

W = torch.zeros(1, requires_grad=True)
B = torch.zeros(1, requires_grad=True)


def fit(x, y, w0, b0, lr, steps):
    with torch.no_grad():
        W.copy_(w0)
        B.copy_(b0)
    W.grad = None
    B.grad = None
    for _ in range(steps):
        loss = ((W * x + B - y) ** 2).mean()
        loss.backward()
        with torch.no_grad():
            W.sub_(lr * W.grad)
            B.sub_(lr * B.grad)
        W.grad.zero_()
        B.grad.zero_()
    return W, B
