# expect-lost: returns_full_batch_loss
"""Buggy: the update is right, but the returned loss is the last micro-batch's own loss."""
import torch
import torch.nn.functional as F


def accumulated_step(model, optimizer, micro_batches):
    total_rows = sum(len(x) for x, _ in micro_batches)
    optimizer.zero_grad()
    for x, y in micro_batches:
        loss = F.mse_loss(model(x), y)
        (loss * len(x) / total_rows).backward()
    optimizer.step()
    return loss.item()
