# expect-lost:
"""Correct: p.grad = None loop, hand-written mean squared error, loss.detach().item()."""
import torch


def train_step(model, optimizer, x, y):
    for p in model.parameters():
        p.grad = None
    pred = model(x)
    loss = ((pred - y) ** 2).mean()
    loss.backward()
    optimizer.step()
    return loss.detach().item()
