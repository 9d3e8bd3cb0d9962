# expect-lost: grad_w1_matches_autograd
"""Buggy (second call): the ReLU mask is cached per input tensor x, so the same x with new weights reuses the old mask."""
import torch

_cached = {"x": None, "mask": None}


def two_layer_grads(x, w1, w2, y):
    h = x.mm(w1)
    h_relu = h.clamp(min=0)
    y_pred = h_relu.mm(w2)
    loss = (y_pred - y).pow(2).sum().item()
    grad_y_pred = 2.0 * (y_pred - y)
    grad_w2 = h_relu.t().mm(grad_y_pred)
    if _cached["x"] is not x:  # "the mask only depends on the data"
        _cached["x"], _cached["mask"] = x, (h >= 0).float()
    grad_h = grad_y_pred.mm(w2.t()) * _cached["mask"]
    grad_w1 = x.t().mm(grad_h)
    return loss, grad_w1, grad_w2
