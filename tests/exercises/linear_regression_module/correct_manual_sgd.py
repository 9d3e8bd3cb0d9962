# expect-lost:
"""Correct: plain SGD written by hand under torch.no_grad(), gradients reset to None."""
import torch
from torch import nn


class LinearRegressionModel(nn.Module):
    def __init__(self, input_dim, output_dim):
        super().__init__()
        self.linear = nn.Linear(input_dim, output_dim)

    def forward(self, x):
        return self.linear(x)


def fit(model, x, y, lr, epochs):
    losses = []
    for _ in range(epochs):
        loss = (model(x) - y).pow(2).sum()
        loss.backward()
        with torch.no_grad():
            for p in model.parameters():
                p -= lr * p.grad
                p.grad = None
        losses.append(loss.item())
    return losses
