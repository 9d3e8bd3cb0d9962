# expect-lost: trains_over_several_steps
"""Buggy (second-call bug, the same model trained twice): the first optimizer a model was
trained with is kept on the model "so that the run continues", so an optimizer handed over
later (other settings, fresh state) is ignored."""
import torch
import torch.nn.functional as F


def train_step(model, optimizer, x, y):
    if not hasattr(model, "run_optimizer"):
        model.run_optimizer = optimizer
    optimizer = model.run_optimizer
    optimizer.zero_grad()
    loss = F.mse_loss(model(x), y)
    loss.backward()
    optimizer.step()
    return loss.item()
