# expect-lost:
"""Correct: results cached by the values of both x and w (a valid cache), returned as fresh copies."""
import torch

_cache = {}


def _key(t):
    return (tuple(t.shape), t.detach().contiguous().numpy().tobytes())


def input_and_hidden_grads(x, w):
    key = (_key(x), _key(w))
    if key not in _cache:
        leaf = x.detach().clone().requires_grad_()
        h = torch.tanh(leaf @ w)
        _cache[key] = torch.autograd.grad((h ** 2).sum(), [leaf, h])
    grad_x, grad_h = _cache[key]
    return grad_x.clone(), grad_h.clone()
