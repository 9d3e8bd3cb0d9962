# expect-lost: trains_over_several_steps
"""Buggy: a new optimizer is built at every call, so momentum buffers and Adam statistics are lost between steps."""
import torch
import torch.nn.functional as F


def train_step(model, optimizer, x, y):
    optimizer = type(optimizer)(model.parameters(), **optimizer.defaults)
    optimizer.zero_grad()
    loss = F.mse_loss(model(x), y)
    loss.backward()
    optimizer.step()
    return loss.item()
