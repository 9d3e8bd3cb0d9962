# expect-lost: returns_loss_before_update
"""Buggy: the training is right, but the value returned is a 0-dim tensor, not a Python float."""
import torch
import torch.nn.functional as F


def train_step(model, optimizer, x, y):
    optimizer.zero_grad()
    loss = F.mse_loss(model(x), y)
    loss.backward()
    optimizer.step()
    return loss.detach()
