# expect-lost: parameters_follow_reference_trajectory, optimizer_holds_the_models_parameters, resumes_again_from_the_same_checkpoint
"""Buggy: load_state_dict(assign=True) after building the optimizer replaces the Parameter objects the optimizer holds."""
import torch
import torch.nn.functional as F


def train_from_checkpoint(make_model, state_dict, x, y, lr, steps):
    model = make_model()
    optimizer = torch.optim.SGD(model.parameters(), lr=lr)
    model.load_state_dict(state_dict, assign=True)
    for _ in range(steps):
        optimizer.zero_grad()
        loss = F.mse_loss(model(x), y)
        loss.backward()
        optimizer.step()
    return model
