# expect-lost: grad_w2_matches_autograd, grad_w1_matches_autograd
"""Buggy (large values only): the output gradient is clipped to [-1000, 1000] "against exploding gradients", which changes it on large inputs."""
import torch


def two_layer_grads(x, w1, w2, y):
    h = x @ w1
    h_relu = h.clamp(min=0)
    y_pred = h_relu @ w2
    loss = (y_pred - y).pow(2).sum().item()
    grad_y_pred = (2.0 * (y_pred - y)).clamp(-1000.0, 1000.0)
    grad_w2 = h_relu.T @ grad_y_pred
    grad_h = grad_y_pred @ w2.T
    grad_h[h < 0] = 0
    grad_w1 = x.T @ grad_h
    return loss, grad_w1, grad_w2
