# expect-lost:
"""Correct: weights by the share of elements, y.numel() / total elements; model.zero_grad(); nn.MSELoss."""
import torch
from torch import nn


def accumulated_step(model, optimizer, micro_batches):
    criterion = nn.MSELoss()
    total = sum(y.numel() for _, y in micro_batches)
    model.zero_grad()
    logged = 0.0
    for x, y in micro_batches:
        share = y.numel() / total
        loss = criterion(model(x), y)
        (share * loss).backward()
        logged += share * loss.item()
    optimizer.step()
    return logged
