# expect-lost:
"""Correct: in-place subtraction through .data, which autograd does not track."""


def sgd_step(params, lr):
    for p in params:
        if p.grad is None:
            continue
        p.data -= lr * p.grad
