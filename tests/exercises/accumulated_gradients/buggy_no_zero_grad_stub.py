# expect-lost: loss_list_matches_reference, parameters_follow_reference, final_grads_are_last_batch_only
"""Buggy (the starter itself): no zero_grad(), so every step uses the sum of all gradients so far."""
import torch
import torch.nn.functional as F


def train(model, optimizer, batches, epochs):
    losses = []
    for _ in range(epochs):
        for x, y in batches:
            loss = F.mse_loss(model(x), y)
            loss.backward()
            optimizer.step()
            losses.append(loss.item())
    return losses
