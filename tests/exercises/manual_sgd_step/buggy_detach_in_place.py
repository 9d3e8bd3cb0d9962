# expect-lost: updates_in_place_and_keeps_leaves
"""Buggy: detach_() silences the in-place error, but the parameters lose requires_grad=True."""


def sgd_step(params, lr):
    for p in params:
        if p.grad is not None:
            p.detach_()
            p -= lr * p.grad
