# expect-lost: updates_every_parameter, reproduces_worked_example
"""Buggy: `return` is indented inside the loop, so only the first parameter with a gradient is updated."""
import torch


def sgd_step(params, lr):
    with torch.no_grad():
        for p in params:
            if p.grad is None:
                continue
            p -= lr * p.grad
            return
