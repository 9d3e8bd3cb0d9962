# expect-lost:
"""Correct: model.zero_grad(), hand-written mean squared error, value read before backward()."""
import torch


def train(model, optimizer, batches, epochs):
    losses = []
    for _ in range(epochs):
        for x, y in batches:
            model.zero_grad()
            loss = ((model(x) - y) ** 2).mean()
            losses.append(loss.detach().item())
            loss.backward()
            optimizer.step()
    return losses
