# expect-lost:
"""Correct: F.linear on zero-initialised parameters, F.mse_loss(reduction="sum"), loss.detach().item()."""
import torch
import torch.nn.functional as F
from torch import nn


class LinearRegressionModel(nn.Module):
    def __init__(self, input_dim, output_dim):
        super().__init__()
        self.weight = nn.Parameter(torch.zeros(output_dim, input_dim))
        self.bias = nn.Parameter(torch.zeros(output_dim))

    def forward(self, x):
        return F.linear(x, self.weight, self.bias)


def fit(model, x, y, lr, epochs):
    optimizer = torch.optim.SGD(model.parameters(), lr=lr)
    losses = []
    for _ in range(epochs):
        optimizer.zero_grad(set_to_none=False)
        loss = F.mse_loss(model(x), y, reduction="sum")
        losses.append(loss.detach().item())
        loss.backward()
        optimizer.step()
    return losses
