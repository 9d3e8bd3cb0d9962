# expect-lost:
"""Correct: torch.where(h < 0, 0, grad) and clamp_min for the forward pass; float(loss)."""
import torch


def two_layer_grads(x, w1, w2, y):
    h = torch.matmul(x, w1)
    h_relu = torch.clamp_min(h, 0.0)
    y_pred = torch.matmul(h_relu, w2)
    diff = y_pred - y
    grad_y_pred = 2.0 * diff
    grad_w2 = torch.matmul(h_relu.transpose(0, 1), grad_y_pred)
    grad_h_relu = torch.matmul(grad_y_pred, w2.transpose(0, 1))
    grad_h = torch.where(h < 0, torch.zeros_like(grad_h_relu), grad_h_relu)
    grad_w1 = torch.matmul(x.transpose(0, 1), grad_h)
    return float(diff.pow(2).sum()), grad_w1, grad_w2
