# expect-lost:
"""Correct: torch.cat the micro-batches back together and make one plain step (memory allowing)."""
import torch
import torch.nn.functional as F


def accumulated_step(model, optimizer, micro_batches):
    x = torch.cat([x for x, _ in micro_batches])
    y = torch.cat([y for _, y in micro_batches])
    optimizer.zero_grad()
    loss = F.mse_loss(model(x), y)
    loss.backward()
    optimizer.step()
    return loss.item()
