# expect-lost: updates_every_parameter, skips_parameters_without_grad, updates_in_place_and_keeps_leaves, leaves_gradients_unchanged
"""Buggy: detach_() silences the in-place error, but the parameters lose requires_grad=True (and a parameter that is a view makes detach_() raise)."""


def sgd_step(params, lr):
    for p in params:
        if p.grad is not None:
            p.detach_()
            p -= lr * p.grad
