# expect-lost:
"""Correct: torch.optim.SGD on the two leaves, zero_grad() before backward()."""
import torch


def fit(x, y, w0, b0, lr, steps):
    w = w0.clone().requires_grad_(True)
    b = b0.clone().requires_grad_(True)
    optimizer = torch.optim.SGD([w, b], lr=lr)
    for _ in range(steps):
        optimizer.zero_grad()
        loss = torch.nn.functional.mse_loss(w * x + b, y)
        loss.backward()
        optimizer.step()
    return w, b
