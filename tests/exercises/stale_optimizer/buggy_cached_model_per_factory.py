# expect-lost: resumes_again_from_the_same_checkpoint
"""Buggy (second call on the same objects): one model and one optimizer are cached per make_model; a later call
with the same factory reloads the checkpoint into the same model, so it keeps the first call's learning rate
and changes the model returned earlier."""
import torch
import torch.nn.functional as F

_trainers = {}


def train_from_checkpoint(make_model, state_dict, x, y, lr, steps):
    if make_model not in _trainers:
        model = make_model()
        _trainers[make_model] = (model, torch.optim.SGD(model.parameters(), lr=lr))
    model, optimizer = _trainers[make_model]
    model.load_state_dict(state_dict)
    for _ in range(steps):
        optimizer.zero_grad()
        F.mse_loss(model(x), y).backward()
        optimizer.step()
    return model
