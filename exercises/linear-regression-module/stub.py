# %% [markdown]
# # Linear regression, the 2017 way
# This notebook follows an old tutorial written for PyTorch 0.3: it fits a line with an `nn.Module` and SGD.
# On a current PyTorch it warns about `size_average` and then crashes on `loss.data[0]`.
# Bring `fit` (and the model, if needed) up to date.

# %%
"""Buggy starter for the exercise linear-regression-module."""
import torch
from torch import nn
from torch.autograd import Variable

# %%
class LinearRegressionModel(nn.Module):
    """y = x @ W.T + b, for inputs of shape (N, input_dim) and outputs of shape (N, output_dim)."""

    def __init__(self, input_dim, output_dim):
        super(LinearRegressionModel, self).__init__()
        self.linear = nn.Linear(input_dim, output_dim)

    def forward(self, x):
        out = self.linear(x)
        return out


def fit(model, x, y, lr, epochs):
    """Full-batch SGD on the summed squared error; returns the loss of every epoch."""
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


# %%
if __name__ == "__main__":
    torch.manual_seed(0)
    x_train = torch.tensor([[1.0], [2.0], [3.0]])
    y_train = torch.tensor([[2.0], [4.0], [6.0]])
    model = LinearRegressionModel(1, 1)
    losses = fit(model, x_train, y_train, lr=0.03, epochs=300)
    print("first losses:", losses[:3])
    print("prediction at 4:", model(torch.tensor([[4.0]])).item())
