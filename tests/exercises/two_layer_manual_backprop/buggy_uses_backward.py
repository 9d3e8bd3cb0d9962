# expect-lost: avoids_forbidden_apis, loss_matches_forward_pass, grad_w2_matches_autograd, grad_w1_matches_autograd, handles_all_negative_preactivations, uses_torchs_subgradient_at_zero
"""Buggy: asks autograd for the gradients with .backward(), which this exercise forbids."""
import torch


def two_layer_grads(x, w1, w2, y):
    w1 = w1.clone().requires_grad_()
    w2 = w2.clone().requires_grad_()
    loss = ((x @ w1).clamp(min=0) @ w2 - y).pow(2).sum()
    loss.backward()
    return loss.item(), w1.grad, w2.grad
