# expect-lost:
"""Correct: computed in float64 with torch.heaviside(h, 1) as the ReLU's slope, cast back to float32."""
import torch


def two_layer_grads(x, w1, w2, y):
    x, w1, w2, y = x.double(), w1.double(), w2.double(), y.double()
    h = x @ w1
    slope = torch.heaviside(h, torch.tensor(1.0, dtype=h.dtype))
    h_relu = torch.maximum(h, torch.zeros_like(h))
    y_pred = h_relu @ w2
    loss = ((y_pred - y) ** 2).sum()
    grad_y_pred = 2 * (y_pred - y)
    grad_w2 = h_relu.T @ grad_y_pred
    grad_w1 = x.T @ ((grad_y_pred @ w2.T) * slope)
    return loss.item(), grad_w1.float(), grad_w2.float()
