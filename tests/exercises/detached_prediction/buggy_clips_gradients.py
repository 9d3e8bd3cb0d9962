# expect-lost: updates_parameters_like_reference, ignores_leftover_gradients, trains_over_several_steps
"""Buggy (special-cased region): the gradient norm is clipped to 1 "for stability", which
changes the update only when the gradients are large (big errors, many outputs)."""
import torch
import torch.nn.functional as F


def train_step(model, optimizer, x, y):
    optimizer.zero_grad()
    loss = F.mse_loss(model(x), y)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm=1.0)
    optimizer.step()
    return loss.item()
