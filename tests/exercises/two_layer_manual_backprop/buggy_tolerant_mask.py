# expect-lost: grad_w1_matches_autograd
"""Buggy (pre-activations just below 0 only): the mask treats h > -1e-6 as "zero up to rounding", so tiny negative pre-activations pass gradient."""
import torch


def two_layer_grads(x, w1, w2, y):
    h = x @ w1
    h_relu = h.clamp(min=0)
    y_pred = h_relu @ w2
    loss = (y_pred - y).pow(2).sum().item()
    grad_y_pred = 2.0 * (y_pred - y)
    grad_w2 = h_relu.T @ grad_y_pred
    grad_h = grad_y_pred @ w2.T
    grad_h[h < -1e-6] = 0  # "a value this close to 0 is a rounding error of 0"
    grad_w1 = x.T @ grad_h
    return loss, grad_w1, grad_w2
