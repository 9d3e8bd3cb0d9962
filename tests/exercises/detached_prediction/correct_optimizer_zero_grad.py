# expect-lost:
"""Correct: optimizer.zero_grad() before backward(), F.mse_loss, loss.item()."""
import torch
import torch.nn.functional as F


def train_step(model, optimizer, x, y):
    optimizer.zero_grad()
    loss = F.mse_loss(model(x), y)
    loss.backward()
    optimizer.step()
    return loss.item()
