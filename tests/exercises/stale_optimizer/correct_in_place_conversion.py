# expect-lost:
"""Correct: Module.to() converts in place and keeps the same Parameter objects, so the optimizer stays valid."""
import torch
import torch.nn.functional as F


def train_from_checkpoint(make_model, state_dict, x, y, lr, steps):
    model = make_model()
    optimizer = torch.optim.SGD(model.parameters(), lr=lr)
    model = model.to(torch.float64).to(x.dtype)
    model.load_state_dict(state_dict)
    for _ in range(steps):
        optimizer.zero_grad()
        loss = F.mse_loss(model(x), y)
        loss.backward()
        optimizer.step()
    return model
