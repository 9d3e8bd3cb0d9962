# expect-lost: parameters_follow_reference_trajectory, resumes_again_from_the_same_checkpoint
"""Buggy (lr > 0.1 only): the learning rate is capped at 0.1 "for stability"."""
import torch
import torch.nn.functional as F


def train_from_checkpoint(make_model, state_dict, x, y, lr, steps):
    model = make_model()
    model.load_state_dict(state_dict)
    optimizer = torch.optim.SGD(model.parameters(), lr=min(lr, 0.1))
    for _ in range(steps):
        optimizer.zero_grad()
        F.mse_loss(model(x), y).backward()
        optimizer.step()
    return model
