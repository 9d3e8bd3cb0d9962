# expect-lost: updates_every_parameter, updates_in_place_and_keeps_leaves, reproduces_worked_example
"""Buggy: the list slots are rebound to fresh leaves, so the caller's tensors keep their old values."""


def sgd_step(params, lr):
    for i, p in enumerate(params):
        if p.grad is not None:
            params[i] = (p - lr * p.grad).detach().requires_grad_()
