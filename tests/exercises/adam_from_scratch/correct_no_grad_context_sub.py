# expect-lost:
"""Correct: `with torch.no_grad():` around the loop, `p -= ...` with an out-of-place update,
zero_grad that replaces the gradients with fresh zero tensors; groups kept as (options, params)."""
import torch


class Adam:
    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0):
        params = list(params)
        if not params or not isinstance(params[0], dict):
            params = [{"params": params}]
        self.groups = []
        for group in params:
            options = {"lr": group.get("lr", lr), "betas": tuple(group.get("betas", betas)),
                       "eps": group.get("eps", eps), "weight_decay": group.get("weight_decay", weight_decay)}
            self.groups.append((options, list(group["params"])))
        self.state = {}

    def step(self):
        with torch.no_grad():
            for options, params in self.groups:
                b1, b2 = options["betas"]
                for p in params:
                    if p.grad is None:
                        continue
                    g = p.grad.clone()
                    if options["weight_decay"] > 0:
                        g += options["weight_decay"] * p
                    if id(p) not in self.state:
                        self.state[id(p)] = [0, torch.zeros_like(p), torch.zeros_like(p)]
                    entry = self.state[id(p)]
                    entry[0] += 1
                    t = entry[0]
                    entry[1] = b1 * entry[1] + (1 - b1) * g
                    entry[2] = b2 * entry[2] + (1 - b2) * g.pow(2)
                    m_hat = entry[1] / (1 - b1 ** t)
                    v_hat = entry[2] / (1 - b2 ** t)
                    p -= options["lr"] * m_hat / (v_hat.sqrt() + options["eps"])

    def zero_grad(self, set_to_none=True):
        for _, params in self.groups:
            for p in params:
                if p.grad is not None:
                    p.grad = None if set_to_none else torch.zeros_like(p.grad)
