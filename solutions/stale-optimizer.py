# %% [markdown]
# # Resuming training from a checkpoint (reference solution)
# The model is created and loaded first, and the optimizer is built from the parameters of that very model.
# `load_state_dict` copies the saved values in place, so the optimizer and the model share the same tensors.

# %%
"""Reference solution for the exercise stale-optimizer."""
import torch
import torch.nn.functional as F

# %%
def load_checkpoint(make_model, state_dict):
    """A fresh model that holds the saved weights."""
    model = make_model()
    model.load_state_dict(state_dict)
    return model


def train_from_checkpoint(make_model, state_dict, x, y, lr, steps):
    """Resume training: `steps` full-batch SGD steps on the MSE, starting from `state_dict`."""
    model = load_checkpoint(make_model, state_dict)
    # An optimizer keeps references to the tensors it is given: build it from the model that is
    # trained and returned, once that model exists.
    optimizer = torch.optim.SGD(model.parameters(), lr=lr)
    for _ in range(steps):
        optimizer.zero_grad()
        loss = F.mse_loss(model(x), y)
        loss.backward()
        optimizer.step()
    return model


# %%
if __name__ == "__main__":
    torch.manual_seed(0)

    def make_model():
        return torch.nn.Sequential(torch.nn.Linear(2, 8), torch.nn.Tanh(), torch.nn.Linear(8, 1))

    checkpoint = make_model().state_dict()
    x = torch.randn(32, 2)
    y = x[:, :1] - 2 * x[:, 1:]
    before = F.mse_loss(load_checkpoint(make_model, checkpoint)(x), y).item()
    model = train_from_checkpoint(make_model, checkpoint, x, y, lr=0.1, steps=50)
    after = F.mse_loss(model(x), y).item()
    print(f"loss at the checkpoint: {before:.4f}, after 50 steps: {after:.4f}")
