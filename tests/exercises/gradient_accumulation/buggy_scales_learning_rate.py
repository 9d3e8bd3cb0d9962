# expect-lost: update_matches_full_batch_step, weights_unequal_micro_batches, single_micro_batch_is_a_plain_step, training_loop_never_clears_gradients
"""Buggy (untested optimizers): the summed squared errors are back-propagated unscaled, and the learning rate is
divided by the number of elements for the step instead. Right for plain SGD, wrong with weight decay, with
Adam (which ignores the scale of the gradient), and with momentum once the batch size changes."""
import torch
import torch.nn.functional as F


def accumulated_step(model, optimizer, micro_batches):
    elements = sum(y.numel() for _, y in micro_batches)
    optimizer.zero_grad()
    full_loss = 0.0
    for x, y in micro_batches:
        loss = F.mse_loss(model(x), y, reduction="sum")
        loss.backward()
        full_loss += loss.item() / elements
    for group in optimizer.param_groups:
        group["lr"] /= elements
    optimizer.step()
    for group in optimizer.param_groups:
        group["lr"] *= elements
    return full_loss
