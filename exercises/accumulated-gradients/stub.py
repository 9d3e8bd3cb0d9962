# %% [markdown]
# # A small training loop
# This notebook trains a network for a few epochs over a fixed list of mini-batches.
# The loss curve looks erratic and the result is not what plain SGD should give.
# Find out why and fix `train`.

# %%
"""Buggy starter for the exercise accumulated-gradients."""
import torch
import torch.nn.functional as F

# %%
def train(model, optimizer, batches, epochs):
    """Train on every (x, y) batch, in order, for `epochs` epochs; return the loss of every step."""
    losses = []
    for _ in range(epochs):
        for x, y in batches:
            loss = F.mse_loss(model(x), y)
            loss.backward()
            optimizer.step()
            losses.append(loss.item())
    return losses


# %%
if __name__ == "__main__":
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(2, 8), torch.nn.Tanh(), torch.nn.Linear(8, 1))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    xs = [torch.randn(8, 2) for _ in range(4)]
    batches = [(x, x[:, :1] - 2 * x[:, 1:]) for x in xs]
    print([round(v, 4) for v in train(model, optimizer, batches, epochs=3)])
