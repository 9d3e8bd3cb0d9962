# expect-lost: leaves_inputs_unchanged, repeated_calls_agree
"""Buggy: w.t_() (in place) instead of w.t() transposes the caller's w, so the next call breaks."""
import torch


def input_and_hidden_grads(x, w):
    h = torch.tanh(x @ w)
    grad_h = 2 * h
    grad_x = (grad_h * (1 - h ** 2)) @ w.t_()
    return grad_x, grad_h
