# %% [markdown]
# # Gradient accumulation (reference solution)
# One optimizer step on a batch split into micro-batches of any sizes.
# Each micro-batch's mean loss is weighted by its share of the rows, so the summed gradients equal the full batch's.

# %%
"""Reference solution for the exercise gradient-accumulation."""
import torch
import torch.nn.functional as F

# %%
def accumulated_step(model, optimizer, micro_batches):
    """One optimizer step on the MSE of all micro-batches together; return that loss before the update."""
    total_rows = sum(len(x) for x, _ in micro_batches)
    optimizer.zero_grad()
    full_loss = 0.0
    for x, y in micro_batches:
        # The full-batch mean is the micro-batch means weighted by their share of the rows.
        # backward() adds up the gradients, so scale each loss before calling it.
        loss = F.mse_loss(model(x), y) * (len(x) / total_rows)
        loss.backward()
        full_loss += loss.item()
    # One step, with the gradient of the full batch.
    optimizer.step()
    return full_loss


# %%
if __name__ == "__main__":
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(3, 8), torch.nn.Tanh(), torch.nn.Linear(8, 1))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    x, y = torch.randn(12, 3), torch.randn(12, 1)
    micro_batches = [(x[:5], y[:5]), (x[5:9], y[5:9]), (x[9:], y[9:])]
    print("full-batch loss:", accumulated_step(model, optimizer, micro_batches))
    print("first weights:", model[0].weight.detach()[0])
