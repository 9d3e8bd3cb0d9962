# expect-lost: loss_list_matches_reference, parameters_follow_reference, final_grads_are_last_batch_only
"""Buggy (untested optimizer configuration): the gradients are cleared through the first
parameter group only, so with two groups the second group's gradients accumulate."""
import torch
import torch.nn.functional as F


def train(model, optimizer, batches, epochs):
    losses = []
    for _ in range(epochs):
        for x, y in batches:
            for p in optimizer.param_groups[0]["params"]:
                p.grad = None
            loss = F.mse_loss(model(x), y)
            loss.backward()
            optimizer.step()
            losses.append(loss.item())
    return losses
