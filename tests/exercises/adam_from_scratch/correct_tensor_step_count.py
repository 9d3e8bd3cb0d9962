# expect-lost:
"""Correct: the step count kept as a float32 tensor, as torch does, and the bias corrections
computed from it as float32 tensors (like torch.optim.Adam with capturable=True)."""
import torch


class Adam:
    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0):
        self.params = list(params)
        self.lr, self.betas, self.eps, self.wd = lr, betas, eps, weight_decay
        self.state = {}

    @torch.no_grad()
    def step(self):
        beta1, beta2 = self.betas
        for p in self.params:
            if p.grad is None:
                continue
            g = p.grad if self.wd == 0 else p.grad.add(p, alpha=self.wd)
            st = self.state.setdefault(p, {"step": torch.zeros(()), "m": torch.zeros_like(p), "v": torch.zeros_like(p)})
            st["step"] += 1
            st["m"].lerp_(g, 1 - beta1)
            st["v"].mul_(beta2).addcmul_(g, g, value=1 - beta2)
            bc1 = 1 - beta1 ** st["step"]
            bc2 = 1 - beta2 ** st["step"]
            step_size = self.lr / bc1
            denom = (st["v"].sqrt() / bc2.sqrt()).add_(self.eps)
            p.sub_(step_size * st["m"] / denom)

    def zero_grad(self, set_to_none=True):
        for p in self.params:
            if p.grad is not None:
                if set_to_none:
                    p.grad = None
                else:
                    p.grad.zero_()
