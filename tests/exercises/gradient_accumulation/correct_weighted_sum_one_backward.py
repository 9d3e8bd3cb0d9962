# expect-lost:
"""Correct: one loss tensor, the weighted sum of the micro-batch losses, then a single backward()."""
import torch
import torch.nn.functional as F


def accumulated_step(model, optimizer, micro_batches):
    n = sum(x.shape[0] for x, _ in micro_batches)
    optimizer.zero_grad(set_to_none=False)
    total = 0
    for x, y in micro_batches:
        total = total + F.mse_loss(model(x), y) * x.shape[0] / n
    total.backward()
    optimizer.step()
    return total.item()
