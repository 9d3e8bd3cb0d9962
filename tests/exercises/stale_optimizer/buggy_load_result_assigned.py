# expect-lost: returns_the_loaded_model_when_steps_is_zero, parameters_follow_reference_trajectory, optimizer_holds_the_models_parameters, leaves_state_dict_unchanged, resumes_again_from_the_same_checkpoint
"""Buggy: model = model.load_state_dict(...) rebinds model to the report of missing and unexpected keys."""
import torch
import torch.nn.functional as F


def train_from_checkpoint(make_model, state_dict, x, y, lr, steps):
    model = make_model()
    optimizer = torch.optim.SGD(model.parameters(), lr=lr)
    model = model.load_state_dict(state_dict)
    for _ in range(steps):
        optimizer.zero_grad()
        loss = F.mse_loss(model(x), y)
        loss.backward()
        optimizer.step()
    return model
