# expect-lost:
"""Correct: p.grad = None for every parameter, steps flattened with itertools."""
import itertools

import torch
import torch.nn.functional as F


def train(model, optimizer, batches, epochs):
    steps = itertools.chain.from_iterable(itertools.repeat(batches, epochs))
    losses = []
    for x, y in steps:
        for p in model.parameters():
            p.grad = None
        loss = F.mse_loss(model(x), y)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return losses
