# expect-lost:
"""Correct: moments kept in float64 for accuracy and the update cast back to float32;
step count and moments created eagerly in __init__, updated only for parameters with a gradient."""
import torch


class Adam:
    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0):
        self.params = list(params)
        self.lr = float(lr)
        self.beta1, self.beta2 = (float(b) for b in betas)
        self.eps = float(eps)
        self.weight_decay = float(weight_decay)
        self.t = [0] * len(self.params)
        self.m = [torch.zeros(p.shape, dtype=torch.float64) for p in self.params]
        self.v = [torch.zeros(p.shape, dtype=torch.float64) for p in self.params]

    @torch.no_grad()
    def step(self):
        for i, p in enumerate(self.params):
            if p.grad is None:
                continue
            g = p.grad.double() + self.weight_decay * p.double()
            self.t[i] += 1
            self.m[i] = self.beta1 * self.m[i] + (1 - self.beta1) * g
            self.v[i] = self.beta2 * self.v[i] + (1 - self.beta2) * g * g
            m_hat = self.m[i] / (1 - self.beta1 ** self.t[i])
            v_hat = self.v[i] / (1 - self.beta2 ** self.t[i])
            update = self.lr * m_hat / (v_hat.sqrt() + self.eps)
            p.copy_((p.double() - update).float())

    def zero_grad(self, set_to_none=True):
        for p in self.params:
            if p.grad is None:
                continue
            if set_to_none:
                p.grad = None
            else:
                p.grad.fill_(0.0)
