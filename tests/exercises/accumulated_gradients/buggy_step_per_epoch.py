# expect-lost: loss_list_matches_reference, parameters_follow_reference, final_grads_are_last_batch_only
"""Buggy: the gradients of all batches are accumulated and the optimizer steps only once per epoch."""
import torch
import torch.nn.functional as F


def train(model, optimizer, batches, epochs):
    losses = []
    for _ in range(epochs):
        optimizer.zero_grad()
        for x, y in batches:
            loss = F.mse_loss(model(x), y)
            loss.backward()
            losses.append(loss.item())
        optimizer.step()
    return losses
