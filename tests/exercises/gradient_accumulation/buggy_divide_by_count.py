# expect-lost: weights_unequal_micro_batches, training_loop_never_clears_gradients
"""Buggy: every loss is divided by the number of micro-batches, which is right only when they have equal sizes."""
import torch
import torch.nn.functional as F


def accumulated_step(model, optimizer, micro_batches):
    k = len(micro_batches)
    with torch.no_grad():
        full_loss = F.mse_loss(model(torch.cat([x for x, _ in micro_batches])),
                               torch.cat([y for _, y in micro_batches])).item()
    optimizer.zero_grad()
    for x, y in micro_batches:
        (F.mse_loss(model(x), y) / k).backward()
    optimizer.step()
    return full_loss
