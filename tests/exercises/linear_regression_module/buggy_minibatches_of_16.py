# expect-lost: fit_matches_reference
"""Buggy (special-cased region): the tutorial's loop split into mini-batches of 16 rows, one
SGD step per batch; identical to full-batch training as long as there are at most 16 rows."""
import torch
from torch import nn


class LinearRegressionModel(nn.Module):
    def __init__(self, input_dim, output_dim):
        super().__init__()
        self.linear = nn.Linear(input_dim, output_dim)

    def forward(self, x):
        return self.linear(x)


def fit(model, x, y, lr, epochs, batch_size=16):
    criterion = nn.MSELoss(reduction="sum")
    optimizer = torch.optim.SGD(model.parameters(), lr=lr)
    losses = []
    for _ in range(epochs):
        total = 0.0
        for start in range(0, len(x), batch_size):
            optimizer.zero_grad()
            loss = criterion(model(x[start:start + batch_size]), y[start:start + batch_size])
            loss.backward()
            optimizer.step()
            total += loss.item()
        losses.append(total)
    return losses
