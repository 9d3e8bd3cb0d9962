# expect-lost:
"""Correct: functional style with torch.func.grad on plain tensors, leaves created at the end."""
import torch
from torch.func import grad


def _loss(params, x, y):
    w, b = params
    return ((w * x + b - y) ** 2).mean()


def fit(x, y, w0, b0, lr, steps):
    params = (w0.clone(), b0.clone())
    loss_grad = grad(_loss)
    for _ in range(steps):
        gw, gb = loss_grad(params, x, y)
        params = (params[0] - lr * gw, params[1] - lr * gb)
    w, b = params
    return w.detach().clone().requires_grad_(True), b.detach().clone().requires_grad_(True)
