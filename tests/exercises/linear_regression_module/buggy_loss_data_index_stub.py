# expect-lost: returns_python_floats, fit_matches_reference, predicts_eight_at_four, raises_no_deprecation_warnings
"""Buggy (the starter itself): `loss.data[0]` raises IndexError on a 0-dim loss; size_average warns."""
import torch
from torch import nn
from torch.autograd import Variable


class LinearRegressionModel(nn.Module):
    def __init__(self, input_dim, output_dim):
        super(LinearRegressionModel, self).__init__()
        self.linear = nn.Linear(input_dim, output_dim)

    def forward(self, x):
        out = self.linear(x)
        return out


def fit(model, x, y, lr, epochs):
    criterion = nn.MSELoss(size_average=False)
    optimizer = torch.optim.SGD(model.parameters(), lr=lr)
    losses = []
    for epoch in range(epochs):
        inputs = Variable(x)
        labels = Variable(y)
        optimizer.zero_grad()
        outputs = model(inputs)
        loss = criterion(outputs, labels)
        loss.backward()
        optimizer.step()
        losses.append(loss.data[0])
    return losses
