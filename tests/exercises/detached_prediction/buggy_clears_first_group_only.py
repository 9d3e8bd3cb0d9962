# expect-lost: ignores_leftover_gradients, trains_over_several_steps
"""Buggy (untested optimizer configuration): the gradients are cleared through the first
parameter group only, so with two groups the second group's gradients accumulate."""
import torch
import torch.nn.functional as F


def train_step(model, optimizer, x, y):
    for p in optimizer.param_groups[0]["params"]:
        p.grad = None
    loss = F.mse_loss(model(x), y)
    loss.backward()
    optimizer.step()
    return loss.item()
