# expect-lost: returns_full_batch_loss, update_matches_full_batch_step, weights_unequal_micro_batches, steps_exactly_once, training_loop_never_clears_gradients
"""Buggy: optimizer.step() inside the loop makes one update per micro-batch instead of one for the whole batch."""
import torch
import torch.nn.functional as F


def accumulated_step(model, optimizer, micro_batches):
    total_rows = sum(len(x) for x, _ in micro_batches)
    full_loss = 0.0
    for x, y in micro_batches:
        optimizer.zero_grad()
        loss = F.mse_loss(model(x), y) * len(x) / total_rows
        loss.backward()
        optimizer.step()
        full_loss += loss.item()
    return full_loss
