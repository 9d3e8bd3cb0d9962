# expect-lost: loss_list_matches_reference, parameters_follow_reference, final_grads_are_last_batch_only
"""Buggy (special-cased region): the targets are squeezed but the prediction is not. With one
output column and more than one row, (B, 1) - (B,) broadcasts to (B, B) and the loss is the
mean over all pairs; with several outputs or B = 1 it is right."""
import torch


def train(model, optimizer, batches, epochs):
    losses = []
    for _ in range(epochs):
        for x, y in batches:
            optimizer.zero_grad()
            loss = ((model(x) - y.squeeze()) ** 2).mean()
            loss.backward()
            optimizer.step()
            losses.append(loss.item())
    return losses
