# %% [markdown]
# # Gradient of a hidden layer (reference solution)
# The gradient of `z = (tanh(x @ w) ** 2).sum()` with respect to the input `x` and to the hidden values `h`.
# `h` is not a leaf of the graph, so it must be asked to keep its gradient with `retain_grad()`.

# %%
"""Reference solution for the exercise non-leaf-grad."""
import torch

# %%
def input_and_hidden_grads(x, w):
    """Return (dz/dx, dz/dh) for h = tanh(x @ w) and z = (h ** 2).sum().

    The inputs x and w are left untouched: the gradient is taken with respect to a copy of x.
    """
    # A fresh leaf that owns its memory: the caller's x (and its .grad) stay untouched.
    x = x.detach().clone().requires_grad_()
    h = torch.tanh(x @ w)
    # h is computed from x, so it is not a leaf: without this call, backward() would
    # not store dz/dh in h.grad, and h.grad would stay None.
    h.retain_grad()
    z = (h ** 2).sum()
    z.backward()
    return x.grad, h.grad


# %%
if __name__ == "__main__":
    x = torch.tensor([[1.0, -2.0, 0.5]])
    w = torch.tensor([[0.5, -0.3], [0.2, 0.1], [-0.4, 0.6]])
    grad_x, grad_h = input_and_hidden_grads(x, w)
    print("grad_x =", grad_x)  # tensor([[ 0.0151, -0.0774, -0.1487]])
    print("grad_h =", grad_h)  # tensor([[-0.1993, -0.3948]])
