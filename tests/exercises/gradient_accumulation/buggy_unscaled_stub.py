# expect-lost: update_matches_full_batch_step, weights_unequal_micro_batches, training_loop_never_clears_gradients
"""Buggy (the starter itself): the micro-batch losses are not scaled, so backward() sums k mean gradients."""
import torch
import torch.nn.functional as F


def accumulated_step(model, optimizer, micro_batches):
    total_rows = sum(len(x) for x, _ in micro_batches)
    optimizer.zero_grad()
    full_loss = 0.0
    for x, y in micro_batches:
        loss = F.mse_loss(model(x), y)
        loss.backward()
        full_loss += loss.item() * len(x) / total_rows
    optimizer.step()
    return full_loss
