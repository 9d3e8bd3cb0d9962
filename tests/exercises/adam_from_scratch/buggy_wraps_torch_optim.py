# expect-lost: avoids_forbidden_apis, first_step_matches_torch_adam, matches_torch_adam_over_many_steps, skips_parameters_without_grad, zero_grad_sets_to_none_or_zero, applies_weight_decay_like_torch
"""Buggy: delegates to torch.optim.Adam, which this exercise forbids."""
import torch


class Adam(torch.optim.Adam):
    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0):
        super().__init__(params, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay)
