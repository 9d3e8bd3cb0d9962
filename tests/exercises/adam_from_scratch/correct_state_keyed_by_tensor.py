# expect-lost:
"""Correct: state in a dict keyed by the parameter tensor, @torch.no_grad() on step, in-place math;
each parameter's hyperparameters looked up in a dict keyed by the tensor as well."""
import math

import torch


class Adam:
    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0):
        defaults = {"lr": lr, "betas": betas, "eps": eps, "weight_decay": weight_decay}
        self.options = {}
        for item in list(params):
            if isinstance(item, dict):
                for p in item["params"]:
                    self.options[p] = {**defaults, **{k: v for k, v in item.items() if k != "params"}}
            else:
                self.options[item] = defaults
        self.state = {}

    @torch.no_grad()
    def step(self):
        for p, o in self.options.items():
            if p.grad is None:
                continue
            beta1, beta2 = o["betas"]
            grad = p.grad if o["weight_decay"] == 0 else p.grad + o["weight_decay"] * p
            state = self.state.setdefault(p, {"step": 0, "m": torch.zeros_like(p), "v": torch.zeros_like(p)})
            state["step"] += 1
            state["m"].mul_(beta1).add_(grad, alpha=1 - beta1)
            state["v"].mul_(beta2).addcmul_(grad, grad, value=1 - beta2)
            step_size = o["lr"] / (1 - beta1 ** state["step"])
            denom = state["v"].sqrt() / math.sqrt(1 - beta2 ** state["step"]) + o["eps"]
            p.addcdiv_(state["m"], denom, value=-step_size)

    def zero_grad(self, set_to_none=True):
        for p in self.options:
            if p.grad is not None:
                if set_to_none:
                    p.grad = None
                else:
                    p.grad.zero_()
