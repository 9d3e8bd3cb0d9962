# expect-lost: ignores_leftover_gradients
"""Buggy: zero_grad() after step() keeps later calls clean, but gradients the model arrives with pollute this step."""
import torch
import torch.nn.functional as F


def train_step(model, optimizer, x, y):
    loss = F.mse_loss(model(x), y)
    loss.backward()
    optimizer.step()
    optimizer.zero_grad()
    return loss.item()
