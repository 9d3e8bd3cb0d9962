# expect-lost: forward_is_affine, has_exactly_weight_and_bias, fit_matches_reference
"""Buggy: the weight is stored as (input_dim, output_dim) and used as x @ W."""
import torch
from torch import nn


class LinearRegressionModel(nn.Module):
    def __init__(self, input_dim, output_dim):
        super().__init__()
        self.weight = nn.Parameter(torch.zeros(input_dim, output_dim))
        self.bias = nn.Parameter(torch.zeros(output_dim))

    def forward(self, x):
        return x @ self.weight + self.bias


def fit(model, x, y, lr, epochs):
    criterion = nn.MSELoss(reduction="sum")
    optimizer = torch.optim.SGD(model.parameters(), lr=lr)
    losses = []
    for _ in range(epochs):
        optimizer.zero_grad()
        loss = criterion(model(x), y)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return losses

