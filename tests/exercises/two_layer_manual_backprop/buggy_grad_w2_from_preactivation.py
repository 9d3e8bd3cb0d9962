# expect-lost: grad_w2_matches_autograd, handles_all_negative_preactivations, uses_torchs_subgradient_at_zero
"""Buggy: grad_w2 = h.t() @ grad_y_pred uses the pre-activation h instead of the ReLU's output h_relu."""
import torch


def two_layer_grads(x, w1, w2, y):
    h = x.mm(w1)
    h_relu = h.clamp(min=0)
    y_pred = h_relu.mm(w2)
    loss = (y_pred - y).pow(2).sum().item()
    grad_y_pred = 2.0 * (y_pred - y)
    grad_w2 = h.t().mm(grad_y_pred)
    grad_h = grad_y_pred.mm(w2.t())
    grad_h[h < 0] = 0
    grad_w1 = x.t().mm(grad_h)
    return loss, grad_w1, grad_w2
