# expect-lost:
"""Correct: gradients cleared both before backward() and after step(), loss value kept with item()."""
import torch
from torch import nn


def train(model, optimizer, batches, epochs):
    loss_fn = nn.MSELoss(reduction="mean")
    losses = []
    optimizer.zero_grad()
    for _ in range(epochs):
        for x, y in batches:
            optimizer.zero_grad()
            pred = model(x)
            loss = loss_fn(pred, y)
            value = loss.item()
            loss.backward()
            optimizer.step()
            optimizer.zero_grad()
            losses.append(value)
    return losses
