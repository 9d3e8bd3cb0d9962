# expect-lost: leaves_state_dict_unchanged, resumes_again_from_the_same_checkpoint
"""Buggy: load_state_dict(assign=True) makes the parameters share memory with the checkpoint, so training overwrites it."""
import torch
import torch.nn.functional as F


def train_from_checkpoint(make_model, state_dict, x, y, lr, steps):
    model = make_model()
    model.load_state_dict(state_dict, assign=True)
    optimizer = torch.optim.SGD(model.parameters(), lr=lr)
    for _ in range(steps):
        optimizer.zero_grad()
        loss = F.mse_loss(model(x), y)
        loss.backward()
        optimizer.step()
    return model
