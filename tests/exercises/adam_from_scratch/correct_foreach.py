# expect-lost:
"""Correct: torch._foreach_* over the parameters of a group that have a gradient, per-parameter
step counts turned into per-parameter scalars."""
import math

import torch


class Adam:
    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0):
        params = list(params)
        if params and not isinstance(params[0], dict):
            params = [{"params": params}]
        defaults = dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay)
        self.param_groups = []
        for group in params:
            group = dict(group)
            group["params"] = list(group["params"])
            for key, value in defaults.items():
                group.setdefault(key, value)
            self.param_groups.append(group)
        self.steps = {}
        self.exp_avgs = {}
        self.exp_avg_sqs = {}

    @torch.no_grad()
    def step(self):
        for group in self.param_groups:
            self._step_group(group)

    def _step_group(self, group):
        params = [p for p in group["params"] if p.grad is not None]
        if not params:
            return
        lr, eps, weight_decay = group["lr"], group["eps"], group["weight_decay"]
        beta1, beta2 = group["betas"]
        for p in params:
            if p not in self.steps:
                self.steps[p] = 0
                self.exp_avgs[p] = torch.zeros_like(p)
                self.exp_avg_sqs[p] = torch.zeros_like(p)
            self.steps[p] += 1
        grads = [p.grad for p in params]
        if weight_decay != 0:
            grads = torch._foreach_add(grads, params, alpha=weight_decay)
        exp_avgs = [self.exp_avgs[p] for p in params]
        exp_avg_sqs = [self.exp_avg_sqs[p] for p in params]
        torch._foreach_mul_(exp_avgs, beta1)
        torch._foreach_add_(exp_avgs, grads, alpha=1 - beta1)
        torch._foreach_mul_(exp_avg_sqs, beta2)
        torch._foreach_addcmul_(exp_avg_sqs, grads, grads, 1 - beta2)
        steps = [self.steps[p] for p in params]
        step_sizes = [-lr / (1 - beta1 ** t) for t in steps]
        denoms = torch._foreach_sqrt(exp_avg_sqs)
        torch._foreach_div_(denoms, [math.sqrt(1 - beta2 ** t) for t in steps])
        torch._foreach_add_(denoms, eps)
        torch._foreach_addcdiv_(params, exp_avgs, denoms, step_sizes)

    def zero_grad(self, set_to_none=True):
        with_grad = [p for group in self.param_groups for p in group["params"] if p.grad is not None]
        if set_to_none:
            for p in with_grad:
                p.grad = None
        elif with_grad:
            torch._foreach_zero_([p.grad for p in with_grad])
