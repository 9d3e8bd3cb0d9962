# expect-lost: parameters_follow_reference_trajectory, optimizer_holds_the_models_parameters, resumes_again_from_the_same_checkpoint
"""Buggy (the starter itself): the optimizer is built on a first model, then the model is re-created to load the checkpoint."""
import torch
import torch.nn.functional as F


def load_checkpoint(make_model, state_dict):
    model = make_model()
    model.load_state_dict(state_dict)
    return model


def train_from_checkpoint(make_model, state_dict, x, y, lr, steps):
    model = make_model()
    optimizer = torch.optim.SGD(model.parameters(), lr=lr)
    model = load_checkpoint(make_model, state_dict)
    for _ in range(steps):
        optimizer.zero_grad()
        loss = F.mse_loss(model(x), y)
        loss.backward()
        optimizer.step()
    return model
