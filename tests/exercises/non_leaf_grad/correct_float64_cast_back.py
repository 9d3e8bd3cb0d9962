# expect-lost:
"""Correct: computed in float64 with retain_grad(), then cast back to float32."""
import torch


def input_and_hidden_grads(x, w):
    x64 = x.double().requires_grad_()
    h = torch.tanh(x64 @ w.double())
    h.retain_grad()
    (h ** 2).sum().backward()
    return x64.grad.float(), h.grad.float()
