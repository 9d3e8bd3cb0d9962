# %% [markdown]
# # One training step (reference solution)
# One step of mean-squared-error training of any `nn.Module` with any optimizer.
# The prediction stays attached to the graph, and stale gradients are cleared before `backward()`.

# %%
"""Reference solution for the exercise detached-prediction."""
import torch
import torch.nn.functional as F

# %%
def train_step(model, optimizer, x, y):
    """Do one optimizer step on the MSE loss of (x, y) and return the loss before the update."""
    # The model may arrive with gradients left over from earlier steps: clear them first.
    optimizer.zero_grad()
    # Keep the prediction in the graph so that backward() reaches the parameters.
    loss = F.mse_loss(model(x), y)
    loss.backward()
    optimizer.step()
    # The loss was computed before step(), so this is the loss before the update.
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
