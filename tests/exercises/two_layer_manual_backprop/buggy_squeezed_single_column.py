# expect-lost: loss_matches_forward_pass
"""Buggy (D_out = 1 only): the loss squeezes y_pred, so (N,) - (N, 1) broadcasts to an (N, N) matrix of differences."""
import torch


def two_layer_grads(x, w1, w2, y):
    h = x @ w1
    h_relu = h.clamp(min=0)
    y_pred = h_relu @ w2
    loss = ((y_pred.squeeze() - y) ** 2).sum()  # "a single output: make it a vector"
    grad_y_pred = 2 * (y_pred - y)
    grad_w2 = h_relu.T @ grad_y_pred
    grad_w1 = x.T @ ((grad_y_pred @ w2.T) * (h >= 0))
    return loss.item(), grad_w1, grad_w2
