# expect-lost: returns_python_floats
"""Buggy: `loss.data[0]` replaced by `loss.data`, which is a 0-dim tensor, not a Python float."""
import torch
from torch import nn


class LinearRegressionModel(nn.Module):
    def __init__(self, input_dim, output_dim):
        super().__init__()
        self.linear = nn.Linear(input_dim, output_dim)

    def forward(self, x):
        return self.linear(x)


def fit(model, x, y, lr, epochs):
    criterion = nn.MSELoss(reduction="sum")
    optimizer = torch.optim.SGD(model.parameters(), lr=lr)
    losses = []
    for _ in range(epochs):
        optimizer.zero_grad()
        loss = criterion(model(x), y)
        loss.backward()
        optimizer.step()
        losses.append(loss.data)
    return losses
