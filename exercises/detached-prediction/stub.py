# %% [markdown]
# # One training step
# This notebook performs one step of mean-squared-error training of a small network.
# The loss is printed and looks fine, but the weights never change.
# Find out why and fix `train_step`.

# %%
"""Buggy starter for the exercise detached-prediction."""
import torch
import torch.nn.functional as F

# %%
def train_step(model, optimizer, x, y):
    """Do one optimizer step on the MSE loss of (x, y) and return the loss before the update."""
    pred = model(x).clone().detach()
    loss = F.mse_loss(pred, y)
    # Added to silence "element 0 of tensors does not require grad and does not have a grad_fn".
    loss.requires_grad_()
    loss.backward()
    optimizer.step()
    return loss.item()


# %%
if __name__ == "__main__":
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(3, 8), torch.nn.Tanh(), torch.nn.Linear(8, 1))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    x, y = torch.randn(16, 3), torch.randn(16, 1)
    before = model[0].weight.detach().clone()
    print("loss:", train_step(model, optimizer, x, y))
    print("weights changed:", not torch.equal(before, model[0].weight))
