# expect-lost:
"""Correct: zero_grad(set_to_none=False) after step() leaves zero-filled gradients at the end."""
import torch
import torch.nn.functional as F


def train(model, optimizer, batches, epochs):
    model.train()
    losses = []
    for _ in range(epochs):
        for batch in batches:
            x, y = batch
            loss = F.mse_loss(model(x), y, reduction="mean")
            loss.backward()
            optimizer.step()
            optimizer.zero_grad(set_to_none=False)
            losses.append(loss.item())
    return losses
