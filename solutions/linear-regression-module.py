# %% [markdown]
# # Linear regression, the 2017 way (reference solution)
# The tutorial's model and training loop, written for a current PyTorch.
# Tensors need no `Variable` wrapper, the summed loss is `reduction="sum"`, and `loss.item()` reads a 0-dim loss.

# %%
"""Reference solution for the exercise linear-regression-module."""
import torch
from torch import nn

# %%
class LinearRegressionModel(nn.Module):
    """y = x @ W.T + b, for inputs of shape (N, input_dim) and outputs of shape (N, output_dim)."""

    def __init__(self, input_dim, output_dim):
        super().__init__()
        # One nn.Linear holds exactly the two parameters: weight (output_dim, input_dim), bias (output_dim,).
        self.linear = nn.Linear(input_dim, output_dim)

    def forward(self, x):
        return self.linear(x)


def fit(model, x, y, lr, epochs):
    """Full-batch SGD on the summed squared error; returns the loss of every epoch."""
    # `size_average=False` was the pre-0.4 spelling of `reduction="sum"`.
    criterion = nn.MSELoss(reduction="sum")
    optimizer = torch.optim.SGD(model.parameters(), lr=lr)
    losses = []
    for _ in range(epochs):
        # Tensors are autograd-aware since PyTorch 0.4: no Variable wrapper is needed.
        optimizer.zero_grad()
        loss = criterion(model(x), y)
        loss.backward()
        optimizer.step()
        # The loss is a 0-dim tensor: item() turns it into a Python float.
        losses.append(loss.item())
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
