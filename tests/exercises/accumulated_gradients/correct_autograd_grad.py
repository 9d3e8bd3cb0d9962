# expect-lost:
"""Correct: torch.autograd.grad gives fresh gradients that replace .grad before each step."""
import torch
import torch.nn.functional as F


def _step(model, optimizer, x, y):
    params = [p for p in model.parameters() if p.requires_grad]
    loss = F.mse_loss(model(x), y)
    grads = torch.autograd.grad(loss, params)
    for p, g in zip(params, grads):
        p.grad = g
    optimizer.step()
    return loss.item()


def train(model, optimizer, batches, epochs):
    return [_step(model, optimizer, x, y) for _ in range(epochs) for x, y in batches]
