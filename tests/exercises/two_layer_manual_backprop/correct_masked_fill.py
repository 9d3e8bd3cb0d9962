# expect-lost:
"""Correct: masked_fill(h < 0, 0) on the incoming gradient, the loss kept as a tensor."""
import torch


def two_layer_grads(x, w1, w2, y):
    h = x @ w1
    h_relu = h.clamp(min=0)
    err = h_relu @ w2 - y
    grad_err = err.mul(2)
    grad_h = (grad_err @ w2.t()).masked_fill(h < 0, 0.0)
    return err.square().sum(), x.t() @ grad_h, h_relu.t() @ grad_err
