"""The reference of linear-regression-module: full-batch gradient descent on the summed squared
error, in float64 and in closed form (no autograd: a fit of 100 epochs costs a few
milliseconds), and the same runs with the usual mistakes, to name the one an answer follows."""

import torch

from .hints import ACCUMULATION_HINT, AFTER_HINT, MEAN_HINT, STALE_LR_HINT


def _gradients(x, y, weight, bias, reduce):
    """The loss and its gradients with respect to the weight and the bias.

    Products are broadcast and summed rather than matrix multiplications: on these tiny
    matrices a BLAS call that wakes a second thread costs ten times more on a busy machine.
    """
    residual = (x[:, None, :] * weight).sum(-1) + bias - y
    scale = 1.0 if reduce == "sum" else 1.0 / residual.numel()
    loss = float((residual * residual).sum()) * scale
    return loss, (2 * scale) * (residual[:, :, None] * x[:, None, :]).sum(0), (2 * scale) * residual.sum(0)


def reference_fits(problem, *, reduce="sum", accumulate=False, record="before", stale_lr=False):
    """``[(losses, weight, bias)]`` after each call of fit in ``problem["fits"]``, each call
    continuing from where the previous one left the model. The keyword options are the usual
    mistakes: the mean instead of the sum, gradients never cleared, the loss recorded after the
    step, an optimizer kept from the first call (its lr)."""
    weight, bias = problem["weight"].double(), problem["bias"].double()
    grad_w, grad_b = torch.zeros_like(weight), torch.zeros_like(bias)
    first_lr = problem["fits"][0]["lr"]
    results = []
    for call in problem["fits"]:
        x, y = call["x"].double(), call["y"].double()
        lr = first_lr if stale_lr else call["lr"]
        losses = []
        for _ in range(call["epochs"]):
            loss, g_w, g_b = _gradients(x, y, weight, bias, reduce)
            grad_w, grad_b = (grad_w + g_w, grad_b + g_b) if accumulate else (g_w, g_b)
            weight, bias = weight - lr * grad_w, bias - lr * grad_b
            losses.append(loss if record == "before" else _gradients(x, y, weight, bias, reduce)[0])
        results.append((torch.tensor(losses, dtype=torch.float64), weight, bias))
    return results


MISTAKES = ((MEAN_HINT, {"reduce": "mean"}), (AFTER_HINT, {"record": "after"}),
            (ACCUMULATION_HINT, {"accumulate": True}), (STALE_LR_HINT, {"stale_lr": True}))


def _close(got, expected):
    return got.shape == expected.shape and bool(torch.allclose(got.double(), expected.double(),
                                                               rtol=1e-4, atol=1e-5))


def diagnose(problem, got, upto):
    """The hint of the usual mistake whose run the answer follows up to call ``upto``, if any."""
    for hint, options in MISTAKES:
        if options.get("stale_lr") and upto == 0:
            continue
        expected = reference_fits(problem, **options)
        if all(_close(torch.tensor(fit["losses"]), losses) and _close(fit["weight"].value, weight)
               and _close(fit["bias"].value, bias)
               for fit, (losses, weight, bias) in zip(got["fits"][:upto + 1], expected[:upto + 1])):
            return hint
    return None
