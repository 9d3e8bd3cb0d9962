# expect-lost: first_step_matches_torch_adam, matches_torch_adam_over_many_steps, applies_weight_decay_like_torch
"""Buggy: the count starts at 1 and is incremented before use, so the first update uses t = 2."""
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
                st = self.state.setdefault(p, {"t": 1, "m": torch.zeros_like(p), "v": torch.zeros_like(p)})
                st["t"] += 1
                st["m"].mul_(b1).add_(g, alpha=1 - b1)
                st["v"].mul_(b2).addcmul_(g, g, value=1 - b2)
                m_hat = st["m"] / (1 - b1 ** st["t"])
                v_hat = st["v"] / (1 - b2 ** st["t"])
                p -= lr * m_hat / (v_hat.sqrt() + eps)

    def zero_grad(self, set_to_none=True):
        for p in (p for group in self.groups for p in group["params"]):
            if p.grad is not None:
                if set_to_none:
                    p.grad = None
                else:
                    p.grad.zero_()
