# %% [markdown]
# # A small training loop (reference solution)
# Mini-batch training over a fixed list of batches for a number of epochs.
# The gradients are cleared before every `backward()`, so each step uses its own batch only.

# %%
"""Reference solution for the exercise accumulated-gradients."""
import torch
import torch.nn.functional as F

# %%
def train(model, optimizer, batches, epochs):
    """Train on every (x, y) batch, in order, for `epochs` epochs; return the loss of every step."""
    losses = []
    for _ in range(epochs):
        for x, y in batches:
            # backward() accumulates into .grad: start every step from clean gradients (a later
            # call on the same model may receive the gradient the previous call left).
            optimizer.zero_grad()
            loss = F.mse_loss(model(x), y)
            loss.backward()
            optimizer.step()
            # Record the loss of this step (computed before the update) as a Python float.
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
