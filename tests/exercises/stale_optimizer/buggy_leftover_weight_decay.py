# expect-lost: parameters_follow_reference_trajectory, resumes_again_from_the_same_checkpoint
"""Buggy (long runs or large learning rates only): weight_decay=1e-4 copied from a template, a pull towards zero
too small to see in a few steps with a small lr."""
import torch
import torch.nn.functional as F


def train_from_checkpoint(make_model, state_dict, x, y, lr, steps):
    model = make_model()
    model.load_state_dict(state_dict)
    optimizer = torch.optim.SGD(model.parameters(), lr=lr, weight_decay=1e-4)
    for _ in range(steps):
        optimizer.zero_grad()
        F.mse_loss(model(x), y).backward()
        optimizer.step()
    return model
