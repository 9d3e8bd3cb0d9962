# expect-lost:
"""Correct: model.zero_grad(), nn.MSELoss module, float(loss)."""
import torch
from torch import nn


def train_step(model, optimizer, x, y):
    criterion = nn.MSELoss()
    model.zero_grad()
    pred = model(x)
    loss = criterion(pred, y)
    loss.backward()
    optimizer.step()
    return float(loss)
