# expect-lost: parameters_follow_reference_trajectory, optimizer_holds_the_models_parameters, resumes_again_from_the_same_checkpoint
"""Buggy: a copy of the loaded model is trained, but the untouched original is returned."""
import copy

import torch
import torch.nn.functional as F


def train_from_checkpoint(make_model, state_dict, x, y, lr, steps):
    model = make_model()
    model.load_state_dict(state_dict)
    trained = copy.deepcopy(model)
    optimizer = torch.optim.SGD(trained.parameters(), lr=lr)
    for _ in range(steps):
        optimizer.zero_grad()
        F.mse_loss(trained(x), y).backward()
        optimizer.step()
    return model
