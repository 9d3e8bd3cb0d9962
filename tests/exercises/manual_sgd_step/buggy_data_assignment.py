# expect-lost: updates_in_place_and_keeps_leaves
"""Buggy: `p.data = ...` gives p new memory, so views and detached aliases of p keep the old values."""


def sgd_step(params, lr):
    for p in params:
        if p.grad is not None:
            p.data = p.data - lr * p.grad
