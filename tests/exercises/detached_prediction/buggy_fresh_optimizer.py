# expect-lost: updates_parameters_like_reference, ignores_leftover_gradients, trains_over_several_steps
"""Buggy: a new optimizer is built at every call from the defaults, so momentum buffers and Adam
statistics are lost between steps, and the learning rate of a second parameter group is lost
even on the first call."""
import torch
import torch.nn.functional as F


def train_step(model, optimizer, x, y):
    optimizer = type(optimizer)(model.parameters(), **optimizer.defaults)
    optimizer.zero_grad()
    loss = F.mse_loss(model(x), y)
    loss.backward()
    optimizer.step()
    return loss.item()
