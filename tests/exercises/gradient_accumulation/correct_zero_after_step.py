# expect-lost:
"""Correct: the gradients arrive clean, so they are cleared after the step instead of before; hand-written MSE."""
import torch


def accumulated_step(model, optimizer, micro_batches):
    total_rows = sum(len(x) for x, _ in micro_batches)
    values = []
    for x, y in micro_batches:
        loss = ((model(x) - y) ** 2).mean() * len(x) / total_rows
        loss.backward()
        values.append(loss.item())
    optimizer.step()
    optimizer.zero_grad()
    return sum(values)
