# expect-lost: loss_matches_forward_pass, grad_w2_matches_autograd, grad_w1_matches_autograd
"""Buggy (second call): the hidden layer is cached per weight tensor w1, so the same weights with a new batch reuse the old hidden layer."""
import torch

_hidden = {"w1": None, "h": None}


def two_layer_grads(x, w1, w2, y):
    if _hidden["w1"] is not w1:  # "the hidden layer only changes when the weights change"
        _hidden["w1"], _hidden["h"] = w1, x @ w1
    h = _hidden["h"]
    h_relu = h.clamp(min=0)
    y_pred = h_relu @ w2
    loss = float(((y_pred - y) ** 2).sum())
    grad_y_pred = 2 * (y_pred - y)
    grad_w2 = h_relu.T @ grad_y_pred
    grad_w1 = x.T @ ((grad_y_pred @ w2.T) * (h >= 0))
    return loss, grad_w1, grad_w2
