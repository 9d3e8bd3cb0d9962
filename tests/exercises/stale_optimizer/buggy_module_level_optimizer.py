# expect-lost: parameters_follow_reference_trajectory, optimizer_holds_the_models_parameters, resumes_again_from_the_same_checkpoint
"""Buggy (second call): the optimizer is kept at module level and built on the first call only, so every
later call steps the parameters of the first call's model."""
import torch
import torch.nn.functional as F

optimizer = None


def train_from_checkpoint(make_model, state_dict, x, y, lr, steps):
    global optimizer
    model = make_model()
    model.load_state_dict(state_dict)
    if optimizer is None:
        optimizer = torch.optim.SGD(model.parameters(), lr=lr)
    for _ in range(steps):
        optimizer.zero_grad()
        model.zero_grad()
        F.mse_loss(model(x), y).backward()
        optimizer.step()
    return model
