# expect-lost:
"""Correct: gradients cleared before backward() and again after step(), through the optimizer's param groups."""
import torch


def _clear(optimizer):
    for group in optimizer.param_groups:
        for p in group["params"]:
            if p.grad is not None:
                p.grad.detach_()
                p.grad.zero_()


def train_step(model, optimizer, x, y):
    _clear(optimizer)
    loss = torch.nn.functional.mse_loss(model(x), y)
    loss.backward()
    optimizer.step()
    _clear(optimizer)
    return loss.item()
