# expect-lost: ignores_leftover_gradients
"""Buggy (leftover gradients before a later call): gradients are cleared after every step,
and before a step only while the optimizer has no state yet ("the first call"). Plain SGD
keeps no state, so it is always cleared there; with momentum or Adam, gradients that arrive
before a later call leak into the update."""
import torch
import torch.nn.functional as F


def train_step(model, optimizer, x, y):
    if not optimizer.state:  # the first step of this run: clear what the model arrived with
        optimizer.zero_grad()
    loss = F.mse_loss(model(x), y)
    loss.backward()
    optimizer.step()
    optimizer.zero_grad()  # leave clean gradients for the next call
    return loss.item()
