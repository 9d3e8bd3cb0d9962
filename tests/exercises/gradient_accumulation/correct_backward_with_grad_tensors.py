# expect-lost:
"""Correct: one torch.autograd.backward over the unscaled micro-batch losses, each weighted by its share of the
rows through grad_tensors, after clearing the leftover gradients with model.zero_grad()."""
import torch
import torch.nn.functional as F


def accumulated_step(model, optimizer, micro_batches):
    total_rows = sum(len(x) for x, _ in micro_batches)
    model.zero_grad()
    losses = [F.mse_loss(model(x), y) for x, y in micro_batches]
    shares = [torch.tensor(len(x) / total_rows) for x, _ in micro_batches]
    torch.autograd.backward(losses, grad_tensors=shares)
    optimizer.step()
    return sum(s.item() * l.item() for s, l in zip(shares, losses))
