# expect-lost:
"""Correct: the step count kept as a float32 tensor, as torch does, and the bias corrections
computed from it as float32 tensors (like torch.optim.Adam with capturable=True); groups
normalised to a list of dicts with every option filled in."""
import torch


class Adam:
    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0):
        given = list(params)
        if not given or not isinstance(given[0], dict):
            given = [{"params": given}]
        self.groups = [{"lr": g.get("lr", lr), "betas": g.get("betas", betas), "eps": g.get("eps", eps),
                        "wd": g.get("weight_decay", weight_decay), "params": list(g["params"])}
                       for g in given]
        self.state = {}

    @torch.no_grad()
    def step(self):
        for group in self.groups:
            beta1, beta2 = group["betas"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                g = p.grad if group["wd"] == 0 else p.grad.add(p, alpha=group["wd"])
                st = self.state.setdefault(p, {"step": torch.zeros(()), "m": torch.zeros_like(p),
                                               "v": torch.zeros_like(p)})
                st["step"] += 1
                st["m"].lerp_(g, 1 - beta1)
                st["v"].mul_(beta2).addcmul_(g, g, value=1 - beta2)
                bc1 = 1 - beta1 ** st["step"]
                bc2 = 1 - beta2 ** st["step"]
                step_size = group["lr"] / bc1
                denom = (st["v"].sqrt() / bc2.sqrt()).add_(group["eps"])
                p.sub_(step_size * st["m"] / denom)

    def zero_grad(self, set_to_none=True):
        for group in self.groups:
            for p in group["params"]:
                if p.grad is not None:
                    if set_to_none:
                        p.grad = None
                    else:
                        p.grad.zero_()
