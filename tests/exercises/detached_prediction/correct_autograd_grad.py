# expect-lost:
"""Correct: gradients from torch.autograd.grad overwrite whatever .grad held before the step."""
import torch
import torch.nn.functional as F


def train_step(model, optimizer, x, y):
    params = [p for p in model.parameters() if p.requires_grad]
    loss = F.mse_loss(model(x), y)
    grads = torch.autograd.grad(loss, params)
    for p, g in zip(params, grads):
        p.grad = g
    optimizer.step()
    return float(loss.detach())
