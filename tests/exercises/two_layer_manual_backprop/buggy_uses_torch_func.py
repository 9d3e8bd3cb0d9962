# expect-lost: avoids_forbidden_apis, loss_matches_forward_pass, grad_w2_matches_autograd, grad_w1_matches_autograd, handles_all_negative_preactivations, uses_torchs_subgradient_at_zero
"""Buggy: lets torch.func compute the gradients, which is autograd under another name."""
import torch
from torch.func import grad_and_value


def two_layer_grads(x, w1, w2, y):
    def loss_fn(a, b):
        return ((x @ a).clamp(min=0) @ b - y).pow(2).sum()

    (grad_w1, grad_w2), loss = grad_and_value(loss_fn, argnums=(0, 1))(w1, w2)
    return loss, grad_w1, grad_w2
