# expect-lost:
"""Correct: moments kept in float64 for accuracy and the update cast back to float32;
step count and moments created eagerly in __init__ (one entry per parameter, in a flat list of
(parameter, group) pairs), updated only for parameters with a gradient."""
import torch


class Adam:
    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0):
        given = list(params)
        groups = given if given and isinstance(given[0], dict) else [{"params": given}]
        defaults = {"lr": lr, "betas": betas, "eps": eps, "weight_decay": weight_decay}
        self.entries = []
        for group in groups:
            options = {**defaults, **{k: v for k, v in group.items() if k != "params"}}
            options = {"lr": float(options["lr"]), "betas": tuple(float(b) for b in options["betas"]),
                       "eps": float(options["eps"]), "weight_decay": float(options["weight_decay"])}
            self.entries += [(p, options) for p in group["params"]]
        self.t = [0] * len(self.entries)
        self.m = [torch.zeros(p.shape, dtype=torch.float64) for p, _ in self.entries]
        self.v = [torch.zeros(p.shape, dtype=torch.float64) for p, _ in self.entries]

    @torch.no_grad()
    def step(self):
        for i, (p, o) in enumerate(self.entries):
            if p.grad is None:
                continue
            beta1, beta2 = o["betas"]
            g = p.grad.double() + o["weight_decay"] * p.double()
            self.t[i] += 1
            self.m[i] = beta1 * self.m[i] + (1 - beta1) * g
            self.v[i] = beta2 * self.v[i] + (1 - beta2) * g * g
            m_hat = self.m[i] / (1 - beta1 ** self.t[i])
            v_hat = self.v[i] / (1 - beta2 ** self.t[i])
            update = o["lr"] * m_hat / (v_hat.sqrt() + o["eps"])
            p.copy_((p.double() - update).float())

    def zero_grad(self, set_to_none=True):
        for p, _ in self.entries:
            if p.grad is None:
                continue
            if set_to_none:
                p.grad = None
            else:
                p.grad.fill_(0.0)
