# expect-lost:
"""Correct: multiply by the boolean mask (h >= 0), @ and .T, loss returned as a 0-dim tensor."""
import torch


def two_layer_grads(x, w1, w2, y):
    h = x @ w1
    mask = h >= 0
    h_relu = h * mask
    residual = h_relu @ w2 - y
    loss = (residual ** 2).sum()
    grad_y_pred = 2 * residual
    grad_w2 = h_relu.T @ grad_y_pred
    grad_h = (grad_y_pred @ w2.T) * mask
    grad_w1 = x.T @ grad_h
    return loss, grad_w1, grad_w2
