# expect-lost: first_step_matches_torch_adam, matches_torch_adam_over_many_steps, skips_parameters_without_grad, zero_grad_sets_to_none_or_zero, applies_weight_decay_like_torch
"""Buggy: t is incremented after the update, so the first update divides by 1 - beta**0 = 0."""
import torch


class Adam:
    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0):
        defaults = dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay)
        groups = list(params)
        if groups and not isinstance(groups[0], dict):
            groups = [{"params": groups}]
        self.groups = [{**defaults, **g, "params": list(g["params"])} for g in groups]
        self.state = {}

    @torch.no_grad()
    def step(self):
        for group in self.groups:
            (b1, b2), lr, eps, wd = group["betas"], group["lr"], group["eps"], group["weight_decay"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                g = p.grad + wd * p
                st = self.state.setdefault(p, {"t": 0, "m": torch.zeros_like(p), "v": torch.zeros_like(p)})
                st["m"].mul_(b1).add_(g, alpha=1 - b1)
                st["v"].mul_(b2).addcmul_(g, g, value=1 - b2)
                step_size = lr / (1 - b1 ** st["t"])
                denom = (st["v"] / (1 - b2 ** st["t"])).sqrt() + eps
                p.addcdiv_(st["m"], denom, value=-step_size)
                st["t"] += 1

    def zero_grad(self, set_to_none=True):
        for p in (p for group in self.groups for p in group["params"]):
            if p.grad is not None:
                if set_to_none:
                    p.grad = None
                else:
                    p.grad.zero_()
