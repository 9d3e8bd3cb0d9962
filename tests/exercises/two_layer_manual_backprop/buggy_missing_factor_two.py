# expect-lost: grad_w2_matches_autograd, grad_w1_matches_autograd, uses_torchs_subgradient_at_zero
"""Buggy: grad_y_pred = y_pred - y forgets the factor 2 of the square's derivative."""
import torch


def two_layer_grads(x, w1, w2, y):
    h = x @ w1
    h_relu = h.clamp(min=0)
    y_pred = h_relu @ w2
    loss = (y_pred - y).pow(2).sum()
    grad_y_pred = y_pred - y
    grad_w2 = h_relu.T @ grad_y_pred
    grad_h = (grad_y_pred @ w2.T) * (h >= 0)
    grad_w1 = x.T @ grad_h
    return loss, grad_w1, grad_w2
