# %% [markdown]
# # A two-layer network, backpropagated by hand (reference solution)
# The loss of a tiny ReLU network and its gradients for both weight matrices, without autograd.
# The ReLU lets the gradient through where its input is >= 0, exactly like autograd's `clamp(min=0)`.

# %%
"""Reference solution for the exercise two-layer-manual-backprop."""
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
    # The ReLU passes no gradient where its input was negative.
    # At h == 0 exactly, clamp(min=0) lets the gradient through, so only h < 0 is zeroed.
    grad_h = grad_h_relu.clone()
    grad_h[h < 0] = 0
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
