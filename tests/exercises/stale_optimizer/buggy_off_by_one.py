# expect-lost: parameters_follow_reference_trajectory, resumes_again_from_the_same_checkpoint
"""Buggy: range(1, steps) makes one step too few."""
import torch
import torch.nn.functional as F


def train_from_checkpoint(make_model, state_dict, x, y, lr, steps):
    model = make_model()
    model.load_state_dict(state_dict)
    optimizer = torch.optim.SGD(model.parameters(), lr=lr)
    for step in range(1, steps):
        optimizer.zero_grad()
        F.mse_loss(model(x), y).backward()
        optimizer.step()
    return model
