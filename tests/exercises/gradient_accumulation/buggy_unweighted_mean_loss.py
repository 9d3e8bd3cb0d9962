# expect-lost: returns_full_batch_loss
"""Buggy: the update is right, but the returned loss is the plain average of the micro-batch losses."""
import torch
import torch.nn.functional as F


def accumulated_step(model, optimizer, micro_batches):
    total_rows = sum(len(x) for x, _ in micro_batches)
    optimizer.zero_grad()
    losses = []
    for x, y in micro_batches:
        loss = F.mse_loss(model(x), y)
        (loss * len(x) / total_rows).backward()
        losses.append(loss.item())
    optimizer.step()
    return sum(losses) / len(losses)
