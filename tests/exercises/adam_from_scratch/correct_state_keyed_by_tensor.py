# expect-lost:
"""Correct: state in a dict keyed by the parameter tensor, @torch.no_grad() on step, in-place math."""
import math

import torch


class Adam:
    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0):
        self.params = list(params)
        self.lr, self.betas, self.eps, self.weight_decay = lr, betas, eps, weight_decay
        self.state = {}

    @torch.no_grad()
    def step(self):
        beta1, beta2 = self.betas
        for p in self.params:
            if p.grad is None:
                continue
            grad = p.grad if self.weight_decay == 0 else p.grad + self.weight_decay * p
            state = self.state.setdefault(p, {"step": 0, "m": torch.zeros_like(p), "v": torch.zeros_like(p)})
            state["step"] += 1
            state["m"].mul_(beta1).add_(grad, alpha=1 - beta1)
            state["v"].mul_(beta2).addcmul_(grad, grad, value=1 - beta2)
            step_size = self.lr / (1 - beta1 ** state["step"])
            denom = state["v"].sqrt() / math.sqrt(1 - beta2 ** state["step"]) + self.eps
            p.addcdiv_(state["m"], denom, value=-step_size)

    def zero_grad(self, set_to_none=True):
        for p in self.params:
            if p.grad is not None:
                if set_to_none:
                    p.grad = None
                else:
                    p.grad.zero_()
