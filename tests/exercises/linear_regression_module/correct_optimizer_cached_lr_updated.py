# expect-lost:
"""Correct: one SGD optimizer kept per model between calls (plain SGD has no state), its lr set
to the one this call is given; the loss written with torch.sum and read with float()."""
import weakref

import torch
from torch import nn

_optimizers = weakref.WeakKeyDictionary()


class LinearRegressionModel(nn.Module):
    def __init__(self, input_dim, output_dim):
        super().__init__()
        self.linear = nn.Linear(input_dim, output_dim)

    def forward(self, x):
        return self.linear(x)


def fit(model, x, y, lr, epochs):
    optimizer = _optimizers.get(model)
    if optimizer is None:
        optimizer = _optimizers[model] = torch.optim.SGD(model.parameters(), lr=lr)
    for group in optimizer.param_groups:
        group["lr"] = lr
    losses = []
    for _ in range(epochs):
        optimizer.zero_grad()
        loss = torch.sum((model(x) - y) ** 2)
        loss.backward()
        optimizer.step()
        losses.append(float(loss))
    return losses
