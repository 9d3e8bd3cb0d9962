# %% [markdown]
# # One step of gradient descent by hand (reference solution)
# The update of plain SGD, written without `torch.optim`.
# Each parameter is changed in place under `torch.no_grad()`, so it stays the same leaf tensor.

# %%
"""Reference solution for the exercise manual-sgd-step."""
import torch

# %%
def sgd_step(params, lr):
    """Update every tensor in params in place: p <- p - lr * p.grad. Returns None.

    Parameters whose .grad is None are skipped. The gradients themselves are not changed.
    """
    # The update must not become part of the graph: autograd stays off inside this block,
    # and in-place changes of leaf tensors that require grad are allowed there.
    with torch.no_grad():
        for p in params:
            if p.grad is None:
                continue
            # `-=` writes into p's own memory; `p = p - ...` would only rebind the name p.
            p -= lr * p.grad


# %%
if __name__ == "__main__":
    x = torch.tensor(1.0, requires_grad=True)
    y = torch.tensor(2.0, requires_grad=True)
    z = 3 * x ** 2 + y ** 3
    z.backward()
    sgd_step([x, y], lr=0.1)
    print("x =", x, "y =", y)  # x = tensor(0.4000, requires_grad=True) y = tensor(0.8000, requires_grad=True)
