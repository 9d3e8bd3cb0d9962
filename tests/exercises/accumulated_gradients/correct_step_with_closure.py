# expect-lost:
"""Correct: optimizer.step(closure), the closure clears the gradients, computes the loss and
runs backward(); step() calls it once and returns its loss. Prediction and targets are both
squeezed, which is the same mean over the same elements."""
import torch


def train(model, optimizer, batches, epochs):
    losses = []
    for _ in range(epochs):
        for x, y in batches:
            def closure():
                optimizer.zero_grad()
                loss = ((model(x).squeeze() - y.squeeze()) ** 2).mean()
                loss.backward()
                return loss

            losses.append(optimizer.step(closure).item())
    return losses
