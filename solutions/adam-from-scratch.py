# %% [markdown]
# # Adam from scratch (reference solution)
# The update of `torch.optim.Adam` (without amsgrad), written by hand, with parameter groups.
# Every parameter has its own step count and moving averages, and a parameter whose `.grad`
# is `None` is skipped.

# %%
"""Reference solution for the exercise adam-from-scratch."""
import math

import torch

# %%
class Adam:
    """Adam with L2 weight decay, as torch.optim.Adam(params, lr, betas, eps, weight_decay)."""

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0):
        defaults = {"lr": lr, "betas": betas, "eps": eps, "weight_decay": weight_decay}
        # params may be a generator (model.parameters()): keep the tensors in a list.
        params = list(params)
        if params and not isinstance(params[0], dict):
            params = [{"params": params}]  # a single parameter group
        # Each group has its own hyperparameters: those of its dict, else the defaults above.
        self.param_groups = [{**defaults, **group, "params": list(group["params"])}
                             for group in params]
        # Per parameter: its own step count and the two moving averages, created at its first update.
        self.state = {}

    @torch.no_grad()
    def step(self):
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is not None:  # else: not part of the loss, no update, no step counted
                    self._update(p, group)

    def _update(self, p, group):
        beta1, beta2 = group["betas"]
        grad = p.grad
        if group["weight_decay"] != 0:
            grad = grad.add(p, alpha=group["weight_decay"])  # out of place: p.grad is left as it is
        if p not in self.state:
            self.state[p] = {"step": 0, "exp_avg": torch.zeros_like(p),
                             "exp_avg_sq": torch.zeros_like(p)}
        state = self.state[p]
        state["step"] += 1
        t = state["step"]
        exp_avg, exp_avg_sq = state["exp_avg"], state["exp_avg_sq"]
        exp_avg.mul_(beta1).add_(grad, alpha=1 - beta1)
        exp_avg_sq.mul_(beta2).addcmul_(grad, grad, value=1 - beta2)
        bias_correction1 = 1 - beta1 ** t
        bias_correction2 = 1 - beta2 ** t
        denom = (exp_avg_sq.sqrt() / math.sqrt(bias_correction2)).add_(group["eps"])
        p.addcdiv_(exp_avg, denom, value=-group["lr"] / bias_correction1)

    def zero_grad(self, set_to_none=True):
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                if set_to_none:
                    p.grad = None
                else:
                    p.grad.zero_()


# %%
if __name__ == "__main__":
    w = torch.tensor([1.0, -2.0], requires_grad=True)
    optimizer = Adam([w], lr=0.1)
    for _ in range(3):
        optimizer.zero_grad()
        loss = ((w - torch.tensor([0.5, 0.5])) ** 2).sum()
        loss.backward()
        optimizer.step()
    print(w)  # tensor([ 0.7049, -1.7005], requires_grad=True), as with torch.optim.Adam
