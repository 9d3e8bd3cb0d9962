# expect-lost: returns_one_loss_per_step, loss_list_matches_reference
"""Buggy (second-call bug): the loss list is a mutable default argument, so it is shared by
every call and a later call returns the losses of all earlier calls too."""
import torch
import torch.nn.functional as F


def train(model, optimizer, batches, epochs, losses=[]):
    for _ in range(epochs):
        for x, y in batches:
            optimizer.zero_grad()
            loss = F.mse_loss(model(x), y)
            loss.backward()
            optimizer.step()
            losses.append(loss.item())
    return losses
