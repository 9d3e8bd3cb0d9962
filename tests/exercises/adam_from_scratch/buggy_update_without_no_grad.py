# expect-lost: first_step_matches_torch_adam, matches_torch_adam_over_many_steps, skips_parameters_without_grad, zero_grad_sets_to_none_or_zero, applies_weight_decay_like_torch
"""Buggy: the in-place update runs while autograd records, which torch refuses for a leaf."""
import math

import torch


class Adam:
    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0):
        self.params = list(params)
        self.lr, (self.b1, self.b2), self.eps, self.wd = lr, betas, eps, weight_decay
        self.state = {}

    def step(self):
        for p in self.params:
            if p.grad is None:
                continue
            g = p.grad + self.wd * p.detach()
            st = self.state.setdefault(p, {"t": 0, "m": torch.zeros_like(p), "v": torch.zeros_like(p)})
            st["t"] += 1
            st["m"].mul_(self.b1).add_(g, alpha=1 - self.b1)
            st["v"].mul_(self.b2).addcmul_(g, g, value=1 - self.b2)
            denom = st["v"].sqrt() / math.sqrt(1 - self.b2 ** st["t"]) + self.eps
            p.addcdiv_(st["m"], denom, value=-self.lr / (1 - self.b1 ** st["t"]))

    def zero_grad(self, set_to_none=True):
        for p in self.params:
            if p.grad is not None:
                if set_to_none:
                    p.grad = None
                else:
                    p.grad.zero_()
