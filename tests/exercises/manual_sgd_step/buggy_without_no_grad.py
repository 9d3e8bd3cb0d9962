# expect-lost: updates_every_parameter, skips_parameters_without_grad, updates_in_place_and_keeps_leaves, leaves_gradients_unchanged, reproduces_worked_example
"""Buggy: the in-place update runs while autograd records, so PyTorch raises on the leaf that requires grad."""


def sgd_step(params, lr):
    for p in params:
        if p.grad is not None:
            p -= lr * p.grad
