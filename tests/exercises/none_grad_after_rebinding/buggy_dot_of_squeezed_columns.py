# expect-lost: returns_leaf_parameters, follows_gradient_descent, leaves_inputs_unchanged
"""Buggy (special case N == 1): hand-written gradients with torch.dot of squeezed columns; squeeze() turns a single point into a 0-d tensor and torch.dot raises."""
import torch


def fit(x, y, w0, b0, lr, steps):
    xs, ys = x.squeeze(), y.squeeze()
    n = x.shape[0]
    w, b = w0.clone(), b0.clone()
    for _ in range(steps):
        residual = w * xs + b - ys
        grad_w = 2.0 * torch.dot(residual, xs) / n
        grad_b = 2.0 * residual.sum() / n
        w = w - lr * grad_w
        b = b - lr * grad_b
    return w.requires_grad_(), b.requires_grad_()
