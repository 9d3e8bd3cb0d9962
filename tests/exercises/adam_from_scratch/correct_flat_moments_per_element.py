# expect-lost:
"""Correct (an unusual technique): every parameter's numbers in one flat float64 buffer, with
per-element step counts and per-element hyperparameters (so groups cost nothing), one masked,
vectorised update for all the parameters that have a gradient, written back with copy_()."""
import torch

F64 = torch.float64


class Adam:
    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0):
        items = list(params)
        groups = items if items and isinstance(items[0], dict) else [{"params": items}]
        self.params, rows = [], []
        for group in groups:
            beta1, beta2 = group.get("betas", betas)
            row = [group.get("lr", lr), beta1, beta2, group.get("eps", eps),
                   group.get("weight_decay", weight_decay)]
            for p in group["params"]:
                self.params.append(p)
                rows.append(torch.tensor(row, dtype=F64).expand(p.numel(), 5))
        self.sizes = [p.numel() for p in self.params]
        self.options = torch.cat(rows) if rows else torch.zeros(0, 5, dtype=F64)
        total = sum(self.sizes)
        self.m, self.v, self.t = (torch.zeros(total, dtype=F64) for _ in range(3))

    @torch.no_grad()
    def step(self):
        has = [p.grad is not None for p in self.params]
        if not any(has):
            return
        mask = torch.cat([torch.full((n,), h) for n, h in zip(self.sizes, has)])
        grads = torch.cat([p.grad.reshape(-1).to(F64) if h else torch.zeros(n, dtype=F64)
                           for p, n, h in zip(self.params, self.sizes, has)])
        values = torch.cat([p.reshape(-1).to(F64) for p in self.params])
        lr, beta1, beta2, eps, weight_decay = self.options.unbind(1)
        g = grads + weight_decay * values
        self.t = torch.where(mask, self.t + 1, self.t)
        self.m = torch.where(mask, beta1 * self.m + (1 - beta1) * g, self.m)
        self.v = torch.where(mask, beta2 * self.v + (1 - beta2) * g * g, self.v)
        m_hat = self.m / (1 - beta1 ** self.t)  # 0/0 where t = 0, never selected below
        v_hat = self.v / (1 - beta2 ** self.t)
        new = torch.where(mask, values - lr * m_hat / (v_hat.sqrt() + eps), values)
        for p, piece, h in zip(self.params, new.split(self.sizes), has):
            if h:
                p.copy_(piece.view(p.shape))

    def zero_grad(self, set_to_none=True):
        for p in self.params:
            if p.grad is None:
                continue
            if set_to_none:
                p.grad = None
            else:
                p.grad.zero_()
