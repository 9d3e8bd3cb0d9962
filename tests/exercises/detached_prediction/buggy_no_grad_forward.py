# expect-lost: updates_parameters_like_reference, ignores_leftover_gradients, trains_over_several_steps
"""Buggy: the forward pass runs under torch.no_grad(), so backward() never reaches the parameters."""
import torch
import torch.nn.functional as F


def train_step(model, optimizer, x, y):
    optimizer.zero_grad()
    with torch.no_grad():
        pred = model(x)
    loss = F.mse_loss(pred, y)
    loss.requires_grad_(True)
    loss.backward()
    optimizer.step()
    return loss.item()
