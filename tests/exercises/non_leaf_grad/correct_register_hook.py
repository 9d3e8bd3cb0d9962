# expect-lost:
"""Correct: a hook on h captures the gradient that flows through it during backward()."""
import torch


def input_and_hidden_grads(x, w):
    x = x.detach().clone().requires_grad_()
    h = torch.tanh(x @ w)
    captured = {}
    h.register_hook(lambda grad: captured.setdefault("h", grad.clone()))
    z = (h ** 2).sum()
    z.backward()
    return x.grad, captured["h"]
