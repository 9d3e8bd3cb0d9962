# expect-lost:
"""Correct: the tutorial order, zero_grad() after step(); nn.MSELoss; float of the detached loss."""
import torch
from torch import nn


def train(model, optimizer, batches, epochs):
    criterion = nn.MSELoss()
    history = []
    for epoch in range(epochs):
        for inputs, targets in batches:
            outputs = model(inputs)
            loss = criterion(outputs, targets)
            loss.backward()
            optimizer.step()
            optimizer.zero_grad()
            history.append(float(loss.detach()))
    return history
