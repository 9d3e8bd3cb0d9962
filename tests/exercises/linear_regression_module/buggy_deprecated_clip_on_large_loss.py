# expect-lost: raises_no_deprecation_warnings
"""Buggy (special-cased region): exploding gradients are guarded against with the deprecated
`clip_grad_norm` (no trailing underscore), but only when the loss is above 1000, which the
tutorial's data never reaches; its bound is so high that it never changes a gradient."""
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
        if loss.item() > 1000:
            torch.nn.utils.clip_grad_norm(model.parameters(), max_norm=1e12)
        optimizer.step()
        losses.append(loss.item())
    return losses
