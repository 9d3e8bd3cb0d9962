# expect-lost:
"""Correct: the returned value is a second forward pass under torch.no_grad(), taken before step()."""
import torch
import torch.nn.functional as F


def train_step(model, optimizer, x, y):
    optimizer.zero_grad(set_to_none=True)
    with torch.no_grad():
        loss_before = F.mse_loss(model(x), y).item()
    loss = F.mse_loss(model(x), y)
    loss.backward()
    optimizer.step()
    return loss_before
