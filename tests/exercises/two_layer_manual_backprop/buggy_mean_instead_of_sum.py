# expect-lost: loss_matches_forward_pass, grad_w2_matches_autograd, grad_w1_matches_autograd, uses_torchs_subgradient_at_zero
"""Buggy: the loss is the mean of the squared errors, so the loss and both gradients are N * D_out times too small."""
import torch


def two_layer_grads(x, w1, w2, y):
    h = x @ w1
    h_relu = h.clamp(min=0)
    y_pred = h_relu @ w2
    loss = (y_pred - y).pow(2).mean()
    grad_y_pred = 2 * (y_pred - y) / y.numel()
    grad_w2 = h_relu.T @ grad_y_pred
    grad_h = (grad_y_pred @ w2.T) * (h >= 0)
    grad_w1 = x.T @ grad_h
    return loss, grad_w1, grad_w2
