# %% [markdown]
# # Fitting a line by hand (reference solution)
# Plain gradient descent on `((w * x + b - y) ** 2).mean()` with autograd.
# The parameters stay the same leaf tensors for the whole run: they are updated in place.

# %%
"""Reference solution for the exercise none-grad-after-rebinding."""
import torch

# %%
def fit(x, y, w0, b0, lr, steps):
    """Fit y ≈ w * x + b by `steps` plain gradient-descent steps on the mean squared error.

    Returns two leaf tensors of shape (1,) with requires_grad=True.
    The inputs x, y, w0 and b0 are left untouched.
    """
    # Fresh leaves that own their memory: clone() so that in-place updates never reach w0 / b0.
    w = w0.detach().clone().requires_grad_()
    b = b0.detach().clone().requires_grad_()
    for _ in range(steps):
        loss = ((w * x + b - y) ** 2).mean()
        loss.backward()
        # Update in place, without recording the update in the graph: w and b stay leaves.
        with torch.no_grad():
            w -= lr * w.grad
            b -= lr * b.grad
        # backward() accumulates into .grad, so reset it before the next step.
        w.grad.zero_()
        b.grad.zero_()
    return w, b


# %%
if __name__ == "__main__":
    torch.manual_seed(0)
    x = torch.rand(100, 1) * 5
    y = 2.3 + 5.1 * x + 0.2 * torch.randn(100, 1)
    w0, b0 = torch.randn(1), torch.randn(1)
    w, b = fit(x, y, w0, b0, lr=0.01, steps=500)
    print(f"w = {w.item():.4f}, b = {b.item():.4f}")  # w = 5.1093, b = 2.2480
