# expect-lost: training_loop_never_clears_gradients
"""Buggy (second call): clears the gradients only while the optimizer has no state yet, i.e. before its first
step; with momentum or Adam every later call adds its gradients to the previous call's."""
import torch
import torch.nn.functional as F


def accumulated_step(model, optimizer, micro_batches):
    total_rows = sum(len(x) for x, _ in micro_batches)
    if not optimizer.state:  # a fresh optimizer: clear whatever the caller left in .grad
        optimizer.zero_grad()
    full_loss = 0.0
    for x, y in micro_batches:
        loss = F.mse_loss(model(x), y) * (len(x) / total_rows)
        loss.backward()
        full_loss += loss.item()
    optimizer.step()
    return full_loss
