# expect-lost: returns_loss_before_update, updates_parameters_like_reference, ignores_leftover_gradients, trains_over_several_steps
"""Buggy: reduction="sum" instead of the mean, so the loss value and the SGD updates are B * out_features times too large."""
import torch
import torch.nn.functional as F


def train_step(model, optimizer, x, y):
    optimizer.zero_grad()
    loss = F.mse_loss(model(x), y, reduction="sum")
    loss.backward()
    optimizer.step()
    return loss.item()
