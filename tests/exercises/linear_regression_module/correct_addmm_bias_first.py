# expect-lost:
"""Correct: the bias registered before the weight (any order is allowed), forward with torch.addmm."""
import torch
from torch import nn


class LinearRegressionModel(nn.Module):
    def __init__(self, input_dim, output_dim):
        super().__init__()
        self.b = nn.Parameter(torch.zeros(output_dim))
        self.W = nn.Parameter(torch.empty(output_dim, input_dim).uniform_(-0.5, 0.5))

    def forward(self, x):
        return torch.addmm(self.b, x, self.W.t())


def fit(model, x, y, lr, epochs):
    optimizer = torch.optim.SGD(model.parameters(), lr=lr)
    criterion = nn.MSELoss(reduction="sum")
    history = []
    for _ in range(epochs):
        optimizer.zero_grad()
        loss = criterion(model(x), y)
        loss.backward()
        optimizer.step()
        history.append(float(loss.item()))
    return history
