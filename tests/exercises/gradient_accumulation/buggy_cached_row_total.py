# expect-lost: training_loop_never_clears_gradients
"""Buggy (second call): the total number of rows is computed on the first call and kept on the optimizer, so a
later call whose micro-batches hold a different number of rows is weighted wrongly."""
import torch
import torch.nn.functional as F


def accumulated_step(model, optimizer, micro_batches):
    if not hasattr(optimizer, "total_rows"):
        optimizer.total_rows = sum(len(x) for x, _ in micro_batches)
    total_rows = optimizer.total_rows
    optimizer.zero_grad()
    full_loss = 0.0
    for x, y in micro_batches:
        loss = F.mse_loss(model(x), y) * (len(x) / total_rows)
        loss.backward()
        full_loss += F.mse_loss(model(x), y).item() * len(x) / sum(len(b) for b, _ in micro_batches)
    optimizer.step()
    return full_loss
