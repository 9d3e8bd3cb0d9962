# expect-lost:
"""Correct: each micro-batch's mean loss times len(x) / total rows, backward() per micro-batch, one step."""
import torch
import torch.nn.functional as F


def accumulated_step(model, optimizer, micro_batches):
    total_rows = sum(len(x) for x, _ in micro_batches)
    optimizer.zero_grad()
    full_loss = 0.0
    for x, y in micro_batches:
        loss = F.mse_loss(model(x), y) * (len(x) / total_rows)
        loss.backward()
        full_loss += loss.item()
    optimizer.step()
    return full_loss
