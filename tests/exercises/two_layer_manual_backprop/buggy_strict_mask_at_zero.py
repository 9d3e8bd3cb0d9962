# expect-lost: uses_torchs_subgradient_at_zero
"""Buggy: the mask (h > 0).float() is torch.relu's convention; clamp(min=0) lets the gradient through at h == 0."""
import torch


def two_layer_grads(x, w1, w2, y):
    h = x @ w1
    h_relu = h.clamp(min=0)
    y_pred = h_relu @ w2
    loss = (y_pred - y).pow(2).sum()
    grad_y_pred = 2 * (y_pred - y)
    grad_w2 = h_relu.T @ grad_y_pred
    grad_h = (grad_y_pred @ w2.T) * (h > 0).float()
    grad_w1 = x.T @ grad_h
    return loss.item(), grad_w1, grad_w2
