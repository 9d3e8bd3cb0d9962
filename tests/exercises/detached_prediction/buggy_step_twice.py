# expect-lost: updates_parameters_like_reference, ignores_leftover_gradients, trains_over_several_steps
"""Buggy: optimizer.step() is called twice, so every call makes two updates with the same gradient."""
import torch
import torch.nn.functional as F


def train_step(model, optimizer, x, y):
    optimizer.zero_grad()
    loss = F.mse_loss(model(x), y)
    loss.backward()
    optimizer.step()
    optimizer.step()
    return loss.item()
