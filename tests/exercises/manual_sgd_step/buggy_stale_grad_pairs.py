# expect-lost: updates_every_parameter, skips_parameters_without_grad
"""Buggy (second call): the (parameter, gradient) pairs are collected once per list, like an optimizer built once; when backward() attaches a new .grad tensor, later steps still use the old one."""
import torch

_pairs = {"params": None, "pairs": []}


def sgd_step(params, lr):
    if params is not _pairs["params"]:
        _pairs["params"] = params
        _pairs["pairs"] = [(p, p.grad) for p in params if p.grad is not None]
    with torch.no_grad():
        for p, grad in _pairs["pairs"]:
            p -= lr * grad
