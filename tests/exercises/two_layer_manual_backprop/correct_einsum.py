# expect-lost:
"""Correct: einsum everywhere, the mask as a float from (h >= 0)."""
import torch


def two_layer_grads(x, w1, w2, y):
    h = torch.einsum("nd,dh->nh", x, w1)
    relu_slope = (h >= 0).to(h.dtype)
    h_relu = h * relu_slope
    y_pred = torch.einsum("nh,ho->no", h_relu, w2)
    grad_y_pred = 2 * (y_pred - y)
    loss = torch.einsum("no,no->", y_pred - y, y_pred - y)
    grad_w2 = torch.einsum("nh,no->ho", h_relu, grad_y_pred)
    grad_h = torch.einsum("no,ho->nh", grad_y_pred, w2) * relu_slope
    grad_w1 = torch.einsum("nd,nh->dh", x, grad_h)
    return loss, grad_w1, grad_w2
