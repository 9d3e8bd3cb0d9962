# expect-lost: loss_list_matches_reference
"""Buggy: the updates are right, but each recorded loss is measured after the step instead of before it."""
import torch
import torch.nn.functional as F


def train(model, optimizer, batches, epochs):
    losses = []
    for _ in range(epochs):
        for x, y in batches:
            optimizer.zero_grad()
            F.mse_loss(model(x), y).backward()
            optimizer.step()
            with torch.no_grad():
                losses.append(F.mse_loss(model(x), y).item())
    return losses
