# expect-lost: update_matches_full_batch_step, weights_unequal_micro_batches, training_loop_never_clears_gradients
"""Buggy: zero_grad() inside the loop throws away every micro-batch's gradient but the last one."""
import torch
import torch.nn.functional as F


def accumulated_step(model, optimizer, micro_batches):
    total_rows = sum(len(x) for x, _ in micro_batches)
    full_loss = 0.0
    for x, y in micro_batches:
        optimizer.zero_grad()
        loss = F.mse_loss(model(x), y) * len(x) / total_rows
        loss.backward()
        full_loss += loss.item()
    optimizer.step()
    return full_loss
