# expect-lost: forward_is_affine, has_exactly_weight_and_bias, fit_matches_reference
"""Buggy: a second bias added on top of nn.Linear's own: the loaded bias is not the only offset, and two biases are trained."""
import torch
from torch import nn


class LinearRegressionModel(nn.Module):
    def __init__(self, input_dim, output_dim):
        super().__init__()
        self.linear = nn.Linear(input_dim, output_dim)
        self.bias = nn.Parameter(torch.zeros(output_dim))

    def forward(self, x):
        return self.linear(x) + self.bias


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

