# expect-lost: grad_w1_matches_autograd, handles_all_negative_preactivations, uses_torchs_subgradient_at_zero
"""Buggy (the starter itself): the ReLU's mask is missing, so gradient flows back where h < 0."""
import torch


def two_layer_grads(x, w1, w2, y):
    h = x.mm(w1)
    h_relu = h.clamp(min=0)
    y_pred = h_relu.mm(w2)
    loss = (y_pred - y).pow(2).sum().item()
    grad_y_pred = 2.0 * (y_pred - y)
    grad_w2 = h_relu.t().mm(grad_y_pred)
    grad_h_relu = grad_y_pred.mm(w2.t())
    grad_h = grad_h_relu.clone()
    grad_w1 = x.t().mm(grad_h)
    return loss, grad_w1, grad_w2
