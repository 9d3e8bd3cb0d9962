# expect-lost:
"""Correct: p.detach() shares p's memory, so an in-place update of the alias updates p."""


def sgd_step(params, lr):
    for p in params:
        if p.grad is not None:
            p.detach().sub_(lr * p.grad)
