# expect-lost: returns_one_loss_per_step, loss_list_matches_reference
"""Buggy: the loss list is reset at the start of every epoch, so only the last epoch's losses are returned."""
import torch
import torch.nn.functional as F


def train(model, optimizer, batches, epochs):
    for _ in range(epochs):
        losses = []
        for x, y in batches:
            optimizer.zero_grad()
            loss = F.mse_loss(model(x), y)
            loss.backward()
            optimizer.step()
            losses.append(loss.item())
    return losses
