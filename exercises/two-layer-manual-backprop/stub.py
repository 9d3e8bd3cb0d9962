# %% [markdown]
# # A two-layer network, backpropagated by hand
# This notebook computes the gradients of a tiny ReLU network without autograd.
# The gradient of the second layer agrees with `loss.backward()`, but the gradient of the first layer does not.
# Find the missing step of the backward pass and fix `two_layer_grads`.

# %%
"""Buggy starter for the exercise two-layer-manual-backprop."""
import torch

# %%
def two_layer_grads(x, w1, w2, y):
    """Loss ((x @ w1).clamp(min=0) @ w2 - y).pow(2).sum() and its gradients for w1 and w2, by hand."""
    # Forward pass.
    h = x.mm(w1)
    h_relu = h.clamp(min=0)
    y_pred = h_relu.mm(w2)
    loss = (y_pred - y).pow(2).sum().item()

    # Backward pass, from the loss back to w2 and w1.
    grad_y_pred = 2.0 * (y_pred - y)
    grad_w2 = h_relu.t().mm(grad_y_pred)
    grad_h_relu = grad_y_pred.mm(w2.t())
    grad_h = grad_h_relu.clone()
    grad_w1 = x.t().mm(grad_h)
    return loss, grad_w1, grad_w2


# %%
if __name__ == "__main__":
    torch.manual_seed(0)
    x, y = torch.randn(4, 3), torch.randn(4, 2)
    w1, w2 = torch.randn(3, 5), torch.randn(5, 2)
    loss, grad_w1, grad_w2 = two_layer_grads(x, w1, w2, y)
    print("loss:", loss)
    print("grad_w1:", grad_w1)
    print("grad_w2:", grad_w2)
