# expect-lost: single_micro_batch_is_a_plain_step, training_loop_never_clears_gradients
"""Buggy (one micro-batch only): a fast path for a single micro-batch forgets to clear the leftover gradients."""
import torch
import torch.nn.functional as F


def accumulated_step(model, optimizer, micro_batches):
    if len(micro_batches) == 1:
        x, y = micro_batches[0]
        loss = F.mse_loss(model(x), y)
        loss.backward()
        optimizer.step()
        return loss.item()
    total_rows = sum(len(x) for x, _ in micro_batches)
    optimizer.zero_grad()
    full_loss = 0.0
    for x, y in micro_batches:
        loss = F.mse_loss(model(x), y) * (len(x) / total_rows)
        loss.backward()
        full_loss += loss.item()
    optimizer.step()
    return full_loss
