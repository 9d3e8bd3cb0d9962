# expect-lost: loss_list_matches_reference, parameters_follow_reference, final_grads_are_last_batch_only
"""Buggy: zero_grad() sits in the epoch loop, so gradients still accumulate across the batches of an epoch."""
import torch
import torch.nn.functional as F


def train(model, optimizer, batches, epochs):
    losses = []
    for _ in range(epochs):
        optimizer.zero_grad()
        for x, y in batches:
            loss = F.mse_loss(model(x), y)
            loss.backward()
            optimizer.step()
            losses.append(loss.item())
    return losses
