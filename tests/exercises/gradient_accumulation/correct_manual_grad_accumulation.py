# expect-lost:
"""Correct: torch.autograd.grad per micro-batch, weighted gradients summed by hand into p.grad."""
import torch


def accumulated_step(model, optimizer, micro_batches):
    params = [p for p in model.parameters() if p.requires_grad]
    sums = [torch.zeros_like(p) for p in params]
    rows = sum(len(x) for x, _ in micro_batches)
    full_loss = 0.0
    for x, y in micro_batches:
        loss = ((model(x) - y) ** 2).mean()
        grads = torch.autograd.grad(loss, params)
        weight = len(x) / rows
        for acc, g in zip(sums, grads):
            acc.add_(g, alpha=weight)
        full_loss += weight * loss.item()
    for p, g in zip(params, sums):
        p.grad = g
    optimizer.step()
    return full_loss
