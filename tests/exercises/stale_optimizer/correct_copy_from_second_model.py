# expect-lost:
"""Correct: the checkpoint goes through a second model, whose weights are copied into the first one in place."""
import torch
import torch.nn.functional as F


def train_from_checkpoint(make_model, state_dict, x, y, lr, steps):
    model = make_model()
    optimizer = torch.optim.SGD(model.parameters(), lr=lr)
    restored = make_model()
    restored.load_state_dict(state_dict)
    model.load_state_dict(restored.state_dict())
    criterion = torch.nn.MSELoss()
    for _ in range(steps):
        loss = criterion(model(x), y)
        loss.backward()
        optimizer.step()
        model.zero_grad()
    return model
