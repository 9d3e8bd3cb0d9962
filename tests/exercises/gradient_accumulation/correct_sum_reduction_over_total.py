# expect-lost:
"""Correct: reduction="sum" per micro-batch divided by the total number of elements; returns a 0-dim tensor."""
import torch
import torch.nn.functional as F


def accumulated_step(model, optimizer, micro_batches):
    elements = sum(y.numel() for _, y in micro_batches)
    for p in model.parameters():
        p.grad = None
    full = torch.zeros(())
    for x, y in micro_batches:
        loss = F.mse_loss(model(x), y, reduction="sum") / elements
        loss.backward()
        full += loss.detach()
    optimizer.step()
    return full
