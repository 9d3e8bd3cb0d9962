# expect-lost: loss_list_matches_reference, parameters_follow_reference, final_grads_are_last_batch_only
"""Buggy: reduction="sum" instead of the mean, so the losses, the SGD steps and the gradients are too large."""
import torch
import torch.nn.functional as F


def train(model, optimizer, batches, epochs):
    losses = []
    for _ in range(epochs):
        for x, y in batches:
            optimizer.zero_grad()
            loss = F.mse_loss(model(x), y, reduction="sum")
            loss.backward()
            optimizer.step()
            losses.append(loss.item())
    return losses
