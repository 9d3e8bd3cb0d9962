# expect-lost: returns_loss_before_update
"""Buggy (second-call bug): the training is right, but from the second call on a model the
returned value is the mean of all its losses so far (a "smoothed" loss), not this batch's."""
import torch
import torch.nn.functional as F


def train_step(model, optimizer, x, y):
    optimizer.zero_grad()
    loss = F.mse_loss(model(x), y)
    loss.backward()
    optimizer.step()
    history = getattr(model, "loss_history", [])
    history.append(loss.item())
    model.loss_history = history
    return sum(history) / len(history)
