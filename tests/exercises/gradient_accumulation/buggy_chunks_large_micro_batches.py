# expect-lost: update_matches_full_batch_step, weights_unequal_micro_batches, single_micro_batch_is_a_plain_step, training_loop_never_clears_gradients
"""Buggy (large micro-batches only): a micro-batch of more than 16 rows is split again into chunks of 16, each
weighted by the micro-batch's share divided by the number of chunks, wrong when the last chunk is smaller.
The logged loss weights the chunks by their rows and is right."""
import math

import torch
import torch.nn.functional as F

CHUNK = 16


def accumulated_step(model, optimizer, micro_batches):
    total_rows = sum(len(x) for x, _ in micro_batches)
    optimizer.zero_grad()
    full_loss = 0.0
    for x, y in micro_batches:
        share = len(x) / total_rows
        chunks = math.ceil(len(x) / CHUNK)
        for start in range(0, len(x), CHUNK):
            xc, yc = x[start:start + CHUNK], y[start:start + CHUNK]
            loss = F.mse_loss(model(xc), yc)
            (loss * share / chunks).backward()
            full_loss += loss.item() * len(xc) / total_rows
    optimizer.step()
    return full_loss
