# expect-lost: returns_one_loss_per_step
"""Buggy: training is right, but the list holds 0-dim loss tensors instead of Python floats."""
import torch
import torch.nn.functional as F


def train(model, optimizer, batches, epochs):
    losses = []
    for _ in range(epochs):
        for x, y in batches:
            optimizer.zero_grad()
            loss = F.mse_loss(model(x), y)
            loss.backward()
            optimizer.step()
            losses.append(loss.detach())
    return losses
