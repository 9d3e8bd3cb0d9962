# expect-lost:
"""Correct: an nn.Linear(1, 1) trained with torch.optim.SGD; its (1, 1) weight is returned as a fresh (1,) leaf."""
import torch


def fit(x, y, w0, b0, lr, steps):
    model = torch.nn.Linear(1, 1)
    with torch.no_grad():
        model.weight.copy_(w0.reshape(1, 1))
        model.bias.copy_(b0)
    optimizer = torch.optim.SGD(model.parameters(), lr=lr)
    loss_fn = torch.nn.MSELoss()
    for _ in range(steps):
        optimizer.zero_grad()
        loss_fn(model(x), y).backward()
        optimizer.step()
    w = model.weight.detach().reshape(1).clone().requires_grad_()
    b = model.bias.detach().clone().requires_grad_()
    return w, b
