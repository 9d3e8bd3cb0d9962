# expect-lost: fit_matches_reference
"""Buggy (second-call bug): the optimizer is created once per model and reused, so a second
fit on the same model trains with the learning rate of the first call."""
import torch
from torch import nn

_optimizers = {}


class LinearRegressionModel(nn.Module):
    def __init__(self, input_dim, output_dim):
        super().__init__()
        self.linear = nn.Linear(input_dim, output_dim)

    def forward(self, x):
        return self.linear(x)


def fit(model, x, y, lr, epochs):
    criterion = nn.MSELoss(reduction="sum")
    if id(model) not in _optimizers:  # no need to rebuild it every call
        _optimizers[id(model)] = (model, torch.optim.SGD(model.parameters(), lr=lr))
    optimizer = _optimizers[id(model)][1]
    losses = []
    for _ in range(epochs):
        optimizer.zero_grad()
        loss = criterion(model(x), y)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return losses
