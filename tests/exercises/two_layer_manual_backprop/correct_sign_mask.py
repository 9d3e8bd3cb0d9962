# expect-lost:
"""Correct: the ReLU's slope as (sign(h) + 1).clamp(max=1), which is 0 below 0 and 1 at 0 and above, like clamp(min=0)'s."""
import torch


def two_layer_grads(x, w1, w2, y):
    h = torch.matmul(x, w1)
    slope = (torch.sign(h) + 1).clamp(max=1)
    h_relu = h * slope  # the same values as h.clamp(min=0), and 0 * h is 0 where h < 0
    y_pred = torch.matmul(h_relu, w2)
    diff = y_pred - y
    loss = torch.dot(diff.flatten(), diff.flatten())
    grad_y_pred = diff + diff
    grad_w2 = torch.matmul(h_relu.transpose(0, 1), grad_y_pred)
    grad_w1 = torch.matmul(x.transpose(0, 1), torch.matmul(grad_y_pred, w2.transpose(0, 1)) * slope)
    return loss, grad_w1, grad_w2
