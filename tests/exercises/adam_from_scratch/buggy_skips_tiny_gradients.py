# expect-lost: first_step_matches_torch_adam, matches_torch_adam_over_many_steps, applies_weight_decay_like_torch
"""Buggy (special-cased region): a gradient below 1e-6 everywhere is treated as "nothing to
learn" and skipped, but with eps = 1e-8 such a gradient still moves the parameter by about lr."""
import math

import torch


class Adam:
    """Adam with L2 weight decay, as torch.optim.Adam(params, lr, betas, eps, weight_decay)."""

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0):
        defaults = {"lr": lr, "betas": betas, "eps": eps, "weight_decay": weight_decay}
        params = list(params)
        if params and not isinstance(params[0], dict):
            params = [{"params": params}]  # a single parameter group
        # Each group: its parameters, and its own hyperparameters (the defaults where it gives none).
        self.param_groups = [{**defaults, **group, "params": list(group["params"])}
                             for group in params]
        self.state = {}  # per parameter: step count and the two moving averages

    @torch.no_grad()
    def step(self):
        for group in self.param_groups:
            beta1, beta2 = group["betas"]
            for p in group["params"]:
                if p.grad is None or p.grad.abs().max() < 1e-6:
                    continue  # no gradient, or a vanishing one: nothing to learn
                grad = p.grad
                if group["weight_decay"] != 0:
                    grad = grad.add(p, alpha=group["weight_decay"])
                if p not in self.state:
                    self.state[p] = {"step": 0, "exp_avg": torch.zeros_like(p),
                                     "exp_avg_sq": torch.zeros_like(p)}
                state = self.state[p]
                state["step"] += 1
                t = state["step"]
                exp_avg, exp_avg_sq = state["exp_avg"], state["exp_avg_sq"]
                exp_avg.mul_(beta1).add_(grad, alpha=1 - beta1)
                exp_avg_sq.mul_(beta2).addcmul_(grad, grad, value=1 - beta2)
                bias_correction1 = 1 - beta1 ** t
                bias_correction2 = 1 - beta2 ** t
                denom = (exp_avg_sq.sqrt() / math.sqrt(bias_correction2)).add_(group["eps"])
                p.addcdiv_(exp_avg, denom, value=-group["lr"] / bias_correction1)

    def zero_grad(self, set_to_none=True):
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                if set_to_none:
                    p.grad = None
                else:
                    p.grad.zero_()
