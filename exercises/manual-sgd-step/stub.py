# %% [markdown]
# # One step of gradient descent by hand
# This notebook writes the update of plain SGD without `torch.optim`.
# The loop runs without any error, but the parameters keep their old values.
# Find out why and fix `sgd_step`.

# %%
"""Buggy starter for the exercise manual-sgd-step."""
import torch

# %%
def sgd_step(params, lr):
    """Update every tensor in params in place: p <- p - lr * p.grad. Returns None."""
    for p in params:
        p = p - lr * p.grad


# %%
if __name__ == "__main__":
    x = torch.tensor(1.0, requires_grad=True)
    y = torch.tensor(2.0, requires_grad=True)
    z = 3 * x ** 2 + y ** 3
    z.backward()
    sgd_step([x, y], lr=0.1)
    print("x =", x, "y =", y)  # expected: x = 0.4, y = 0.8
