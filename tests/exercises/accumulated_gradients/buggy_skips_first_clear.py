# expect-lost: loss_list_matches_reference, parameters_follow_reference, final_grads_are_last_batch_only
"""Buggy (second-call bug): the gradients are cleared before backward() at every step but the
first one, "because training starts from clean gradients". That holds for the first call on a
model only: a later call gets the last batch's gradient left by the previous call, and its
first step adds to it."""
import torch
import torch.nn.functional as F


def train(model, optimizer, batches, epochs):
    losses = []
    for step, (x, y) in enumerate(batch for _ in range(epochs) for batch in batches):
        if step > 0:
            optimizer.zero_grad()
        loss = F.mse_loss(model(x), y)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return losses
