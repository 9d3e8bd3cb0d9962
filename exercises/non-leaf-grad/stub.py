# %% [markdown]
# # Gradient of a hidden layer
# This notebook computes the gradient of `z = (tanh(x @ w) ** 2).sum()` with autograd.
# The gradient with respect to the input `x` comes out fine, but the one with respect to the hidden values `h` is `None`.
# Find out why and fix `input_and_hidden_grads`.

# %%
"""Buggy starter for the exercise non-leaf-grad."""
import torch

# %%
def input_and_hidden_grads(x, w):
    """Return (dz/dx, dz/dh) for h = tanh(x @ w) and z = (h ** 2).sum()."""
    x = x.clone().requires_grad_()
    h = torch.tanh(x @ w)
    z = (h ** 2).sum()
    z.backward()
    return x.grad, h.grad


# %%
if __name__ == "__main__":
    x = torch.tensor([[1.0, -2.0, 0.5]])
    w = torch.tensor([[0.5, -0.3], [0.2, 0.1], [-0.4, 0.6]])
    grad_x, grad_h = input_and_hidden_grads(x, w)
    print("grad_x =", grad_x)
    print("grad_h =", grad_h)
