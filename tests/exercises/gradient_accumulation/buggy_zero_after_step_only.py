# expect-lost: update_matches_full_batch_step, weights_unequal_micro_batches, single_micro_batch_is_a_plain_step, training_loop_never_clears_gradients
"""Buggy: the gradients are cleared after the step only, so leftover gradients that arrive with the call reach the step."""
import torch


def accumulated_step(model, optimizer, micro_batches):
    total_rows = sum(len(x) for x, _ in micro_batches)
    values = []
    for x, y in micro_batches:
        loss = ((model(x) - y) ** 2).mean() * len(x) / total_rows
        loss.backward()
        values.append(loss.item())
    optimizer.step()
    optimizer.zero_grad()
    return sum(values)
