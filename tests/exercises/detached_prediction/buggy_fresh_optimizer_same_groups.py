# expect-lost: ignores_leftover_gradients, trains_over_several_steps
"""Buggy (second-call bug): a fresh optimizer with the very same parameter groups and settings
is built at every call, so the first call is right but momentum buffers and Adam statistics
never carry over to the next one."""
import torch
import torch.nn.functional as F


def train_step(model, optimizer, x, y):
    optimizer = type(optimizer)(optimizer.param_groups)
    optimizer.zero_grad()
    loss = F.mse_loss(model(x), y)
    loss.backward()
    optimizer.step()
    return loss.item()
