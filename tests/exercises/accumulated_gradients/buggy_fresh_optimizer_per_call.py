# expect-lost: loss_list_matches_reference, parameters_follow_reference, final_grads_are_last_batch_only
"""Buggy (second-call bug): every call starts "a clean run" on a fresh optimizer with the same
parameter groups and settings, so a call that continues a run loses the momentum buffers and
Adam statistics of the previous one."""
import torch
import torch.nn.functional as F


def train(model, optimizer, batches, epochs):
    optimizer = type(optimizer)(optimizer.param_groups)
    losses = []
    for _ in range(epochs):
        for x, y in batches:
            optimizer.zero_grad()
            loss = F.mse_loss(model(x), y)
            loss.backward()
            optimizer.step()
            losses.append(loss.item())
    return losses
