# expect-lost:
"""Correct: p.data.add_(p.grad, alpha=-lr), the form torch.optim.SGD used to use."""


def sgd_step(params, lr):
    for p in params:
        if p.grad is not None:
            p.data.add_(p.grad, alpha=-lr)
