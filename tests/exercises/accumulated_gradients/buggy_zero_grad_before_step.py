# expect-lost: loss_list_matches_reference, parameters_follow_reference
"""Buggy: zero_grad() between backward() and step() throws every gradient away, so the model never trains."""
import torch
import torch.nn.functional as F


def train(model, optimizer, batches, epochs):
    losses = []
    for _ in range(epochs):
        for x, y in batches:
            loss = F.mse_loss(model(x), y)
            loss.backward()
            optimizer.zero_grad()
            optimizer.step()
            losses.append(loss.item())
    return losses
