# expect-lost: updates_parameters_like_reference, ignores_leftover_gradients, trains_over_several_steps
"""Buggy (the starter itself): the prediction is detached, so the parameters never receive this batch's gradient."""
import torch
import torch.nn.functional as F


def train_step(model, optimizer, x, y):
    pred = model(x).clone().detach()
    loss = F.mse_loss(pred, y)
    loss.requires_grad_()
    loss.backward()
    optimizer.step()
    return loss.item()
