# expect-lost:
"""Correct: optimizer.step(closure), the closure clears the gradients, computes the loss and
runs backward(); step() calls it once and returns its loss."""
import torch
import torch.nn.functional as F


def train_step(model, optimizer, x, y):
    def closure():
        optimizer.zero_grad()
        loss = F.mse_loss(model(x), y)
        loss.backward()
        return loss

    return optimizer.step(closure).item()
