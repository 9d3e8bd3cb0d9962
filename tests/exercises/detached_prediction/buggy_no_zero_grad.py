# expect-lost: ignores_leftover_gradients, trains_over_several_steps
"""Buggy: the gradients are never cleared, so leftover and earlier gradients are added to this batch's gradient."""
import torch
import torch.nn.functional as F


def train_step(model, optimizer, x, y):
    loss = F.mse_loss(model(x), y)
    loss.backward()
    optimizer.step()
    return loss.item()
