# expect-lost: returns_loss_before_update
"""Buggy: the update is right, but the returned loss is measured after step() instead of before it."""
import torch
import torch.nn.functional as F


def train_step(model, optimizer, x, y):
    optimizer.zero_grad()
    loss = F.mse_loss(model(x), y)
    loss.backward()
    optimizer.step()
    with torch.no_grad():
        loss = F.mse_loss(model(x), y)
    return loss.item()
