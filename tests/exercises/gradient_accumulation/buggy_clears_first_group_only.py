# expect-lost: update_matches_full_batch_step, weights_unequal_micro_batches, single_micro_batch_is_a_plain_step, training_loop_never_clears_gradients
"""Buggy (parameter groups): clears the gradients of the first parameter group only, so with two groups the
second group's leftover gradients reach the step."""
import torch
import torch.nn.functional as F


def accumulated_step(model, optimizer, micro_batches):
    total_rows = sum(len(x) for x, _ in micro_batches)
    for p in optimizer.param_groups[0]["params"]:
        p.grad = None
    full_loss = 0.0
    for x, y in micro_batches:
        loss = F.mse_loss(model(x), y) * (len(x) / total_rows)
        loss.backward()
        full_loss += loss.item()
    optimizer.step()
    return full_loss
