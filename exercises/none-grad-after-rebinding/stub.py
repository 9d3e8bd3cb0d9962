# %% [markdown]
# # Fitting a line by hand
# This notebook fits `y ≈ w * x + b` with plain gradient descent and autograd.
# One step works, but from the second step on `w.grad` is `None` and the loop crashes.
# Fix `fit` so that it runs any number of steps and returns trainable leaf tensors.

# %%
"""Buggy starter for the exercise none-grad-after-rebinding."""
import torch

# %%
def fit(x, y, w0, b0, lr, steps):
    """Fit y ≈ w * x + b by `steps` plain gradient-descent steps on the mean squared error."""
    w = w0.clone().requires_grad_()
    b = b0.clone().requires_grad_()
    for _ in range(steps):
        loss = ((w * x + b - y) ** 2).mean()
        loss.backward()
        # Plain gradient-descent update.
        w = w - lr * w.grad
        b = b - lr * b.grad
    return w, b


# %%
if __name__ == "__main__":
    torch.manual_seed(0)
    x = torch.rand(100, 1) * 5
    y = 2.3 + 5.1 * x + 0.2 * torch.randn(100, 1)
    w0, b0 = torch.randn(1), torch.randn(1)
    # One step still "works"; try steps=2 to see the crash.
    w, b = fit(x, y, w0, b0, lr=0.01, steps=1)
    print("w =", w, "is_leaf:", w.is_leaf)
    print("b =", b, "is_leaf:", b.is_leaf)
