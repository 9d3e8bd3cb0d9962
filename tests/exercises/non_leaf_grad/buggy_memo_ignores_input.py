# expect-lost: repeated_calls_agree
"""Buggy (second call): the gradients are cached per weight tensor, so the same w with another x gets the old answer."""
import torch

_by_weight = {}


def input_and_hidden_grads(x, w):
    # "The weights stay the same during a training loop, so compute once per weight tensor."
    key = id(w)
    if key in _by_weight and _by_weight[key][0] is w:
        return _by_weight[key][1]
    leaf = x.detach().clone().requires_grad_()
    h = torch.tanh(leaf @ w)
    grad_x, grad_h = torch.autograd.grad((h ** 2).sum(), [leaf, h])
    _by_weight[key] = (w, (grad_x, grad_h))
    return grad_x, grad_h
