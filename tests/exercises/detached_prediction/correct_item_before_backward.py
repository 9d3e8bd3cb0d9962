# expect-lost:
"""Correct: zero_grad(set_to_none=False), the loss value is read with item() before backward()."""
import torch
import torch.nn.functional as F


def train_step(model, optimizer, x, y):
    model.train()
    optimizer.zero_grad(set_to_none=False)
    output = model(x)
    loss = F.mse_loss(output, y, reduction="mean")
    loss_value = loss.item()
    loss.backward()
    optimizer.step()
    return loss_value
