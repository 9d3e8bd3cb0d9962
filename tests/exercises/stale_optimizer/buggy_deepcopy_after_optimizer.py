# expect-lost: parameters_follow_reference_trajectory, optimizer_holds_the_models_parameters, resumes_again_from_the_same_checkpoint
"""Buggy: the loaded model is deep-copied after the optimizer was built, and the copy is trained and returned."""
import copy

import torch
import torch.nn.functional as F


def train_from_checkpoint(make_model, state_dict, x, y, lr, steps):
    base = make_model()
    base.load_state_dict(state_dict)
    optimizer = torch.optim.SGD(base.parameters(), lr=lr)
    model = copy.deepcopy(base)  # work on a copy so that base keeps the checkpoint
    for _ in range(steps):
        optimizer.zero_grad()
        loss = F.mse_loss(model(x), y)
        loss.backward()
        optimizer.step()
    return model
