# expect-lost: returns_full_batch_loss, update_matches_full_batch_step, weights_unequal_micro_batches, single_micro_batch_is_a_plain_step, training_loop_never_clears_gradients
"""Buggy: reduction="sum" with no division, so the loss and the SGD step are as large as the number of elements."""
import torch
import torch.nn.functional as F


def accumulated_step(model, optimizer, micro_batches):
    optimizer.zero_grad()
    full_loss = 0.0
    for x, y in micro_batches:
        loss = F.mse_loss(model(x), y, reduction="sum")
        loss.backward()
        full_loss += loss.item()
    optimizer.step()
    return full_loss
