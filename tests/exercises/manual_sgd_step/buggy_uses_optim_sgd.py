# expect-lost: avoids_forbidden_apis, updates_every_parameter, skips_parameters_without_grad, updates_in_place_and_keeps_leaves, leaves_gradients_unchanged, reproduces_worked_example
"""Buggy: the step is delegated to torch.optim.SGD, which the exercise forbids."""
import torch


def sgd_step(params, lr):
    torch.optim.SGD(params, lr=lr).step()
