# expect-lost: returns_the_loaded_model_when_steps_is_zero, parameters_follow_reference_trajectory, resumes_again_from_the_same_checkpoint
"""Buggy: the checkpoint is never loaded, so training starts from make_model()'s random weights."""
import torch
import torch.nn.functional as F


def train_from_checkpoint(make_model, state_dict, x, y, lr, steps):
    model = make_model()
    optimizer = torch.optim.SGD(model.parameters(), lr=lr)
    for _ in range(steps):
        optimizer.zero_grad()
        loss = F.mse_loss(model(x), y)
        loss.backward()
        optimizer.step()
    return model
