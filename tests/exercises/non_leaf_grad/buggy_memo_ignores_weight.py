# expect-lost: repeated_calls_agree
"""Buggy (second call): the gradients are cached per x tensor, so the same x with another w gets the old answer."""
import torch

_last = {"x": None, "grads": None}


def input_and_hidden_grads(x, w):
    if _last["x"] is x:  # "x has not changed, no need to run backward again"
        return _last["grads"]
    leaf = x.detach().clone().requires_grad_()
    h = torch.tanh(leaf @ w)
    h.retain_grad()
    (h ** 2).sum().backward()
    _last["x"], _last["grads"] = x, (leaf.grad, h.grad)
    return leaf.grad, h.grad
