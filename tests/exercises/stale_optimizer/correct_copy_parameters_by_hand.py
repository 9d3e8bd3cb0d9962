# expect-lost:
"""Correct: the values are copied into the parameters by hand with copy_(), then the optimizer is built."""
import torch
import torch.nn.functional as F


def train_from_checkpoint(make_model, state_dict, x, y, lr, steps):
    model = make_model()
    with torch.no_grad():
        for name, p in model.named_parameters():
            p.copy_(state_dict[name])
    optimizer = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.0)
    for _ in range(steps):
        optimizer.zero_grad(set_to_none=True)
        F.mse_loss(model(x), y).backward()
        optimizer.step()
    return model
