# expect-lost: first_step_matches_torch_adam, matches_torch_adam_over_many_steps, skips_parameters_without_grad, zero_grad_sets_to_none_or_zero, applies_weight_decay_like_torch
"""Buggy: the in-place update runs while autograd records, which torch refuses for a leaf."""
import math

import torch


class Adam:
    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0):
        defaults = dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay)
        groups = list(params)
        if groups and not isinstance(groups[0], dict):
            groups = [{"params": groups}]
        self.groups = [{**defaults, **g, "params": list(g["params"])} for g in groups]
        self.state = {}

    def step(self):
        for group in self.groups:
            (b1, b2), lr, eps, wd = group["betas"], group["lr"], group["eps"], group["weight_decay"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                g = p.grad + wd * p.detach()
                st = self.state.setdefault(p, {"t": 0, "m": torch.zeros_like(p), "v": torch.zeros_like(p)})
                st["t"] += 1
                st["m"].mul_(b1).add_(g, alpha=1 - b1)
                st["v"].mul_(b2).addcmul_(g, g, value=1 - b2)
                denom = st["v"].sqrt() / math.sqrt(1 - b2 ** st["t"]) + eps
                p.addcdiv_(st["m"], denom, value=-lr / (1 - b1 ** st["t"]))

    def zero_grad(self, set_to_none=True):
        for p in (p for group in self.groups for p in group["params"]):
            if p.grad is not None:
                if set_to_none:
                    p.grad = None
                else:
                    p.grad.zero_()
