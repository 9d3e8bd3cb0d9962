# expect-lost: updates_every_parameter, updates_in_place_and_keeps_leaves, reproduces_worked_example
"""Buggy: functional style, the updated values are returned as new tensors and params is never changed."""


def sgd_step(params, lr):
    return [p if p.grad is None else p - lr * p.grad for p in params]
