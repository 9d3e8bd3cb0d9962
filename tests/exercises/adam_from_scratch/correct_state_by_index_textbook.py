# expect-lost:
"""Correct: the textbook form with m_hat and v_hat, state in lists indexed by position (over all
groups, each parameter with its group's hyperparameters), out-of-place math written back through .data."""
import torch


class Adam:
    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0):
        self.params, self.hyper = [], []
        for item in params:
            group = item if isinstance(item, dict) else {"params": [item]}
            for p in group["params"]:
                self.params.append(p)
                self.hyper.append((group.get("lr", lr), group.get("betas", betas)[0],
                                   group.get("betas", betas)[1], group.get("eps", eps),
                                   group.get("weight_decay", weight_decay)))
        self.m = [torch.zeros_like(p) for p in self.params]
        self.v = [torch.zeros_like(p) for p in self.params]
        self.t = [0 for _ in self.params]

    def step(self):
        for i, p in enumerate(self.params):
            if p.grad is None:
                continue
            lr, beta1, beta2, eps, weight_decay = self.hyper[i]
            g = p.grad.data
            if weight_decay:
                g = g + weight_decay * p.data
            self.t[i] += 1
            self.m[i] = beta1 * self.m[i] + (1 - beta1) * g
            self.v[i] = beta2 * self.v[i] + (1 - beta2) * g * g
            m_hat = self.m[i] / (1 - beta1 ** self.t[i])
            v_hat = self.v[i] / (1 - beta2 ** self.t[i])
            p.data = p.data - lr * m_hat / (torch.sqrt(v_hat) + eps)

    def zero_grad(self, set_to_none=True):
        for p in self.params:
            if p.grad is None:
                continue
            if set_to_none:
                p.grad = None
            else:
                p.grad.data.zero_()
