"""Checks for detached-prediction: ``train_step(model, optimizer, x, y) -> float``.

Models (small MLPs) and optimizers (SGD with and without momentum, Adam) are drawn as plain
data; the reference steps run here with real torch.optim.
"""

import torch

from grader.checks import CheckFailed, check, expect_close
from grader.strategies import mse_step, reference_model, training_setups

DETACH_HINT = ("A detached prediction (or one computed under torch.no_grad()) is cut off from "
               "the model: backward() cannot reach the parameters, so their .grad stays None and "
               "optimizer.step() changes nothing. Compute the loss from `model(x)` itself.")
LEFTOVER_HINT = ("backward() adds to .grad. Gradients left from earlier steps are added to this "
                 "batch's gradient unless you call optimizer.zero_grad() before backward().")
STATE_HINT = ("The optimizer keeps state between calls (momentum buffers, Adam's averages): use "
              "the optimizer you are given, and clear gradients before every backward().")


def reference_trajectory(setup):
    model, optimizer = reference_model(setup)
    steps = []
    for x, y in setup["batches"]:
        loss = mse_step(model, optimizer, x, y)
        steps.append({"loss": loss, "params": [p.detach().clone() for p in model.parameters()]})
    return steps


def unchanged(got_params, setup):
    return all(torch.equal(g.value, p) for g, p in zip(got_params, setup["params"]))


def compare_parameters(got_steps, ref_steps, setup, hint):
    for index, (got, ref) in enumerate(zip(got_steps, ref_steps), start=1):
        where = f" after call {index}" if len(ref_steps) > 1 else ""
        if index == 1 and unchanged(got["params"], setup):
            raise CheckFailed(f"The parameters did not change{where}.",
                              expected=ref["params"][0], got=got["params"][0].value, hint=DETACH_HINT)
        for number, (g, r) in enumerate(zip(got["params"], ref["params"])):
            expect_close(f"Parameter {number}{where}", g, r, rtol=1e-4, atol=1e-5, hint=hint)


def follows_reference(sub, setup, hint):
    pending = sub.start("run_train_step", **setup)
    expected = reference_trajectory(setup)  # computed while the submission runs
    compare_parameters(pending.result(), expected, setup, hint)


@check(points=2, examples=15, setup=training_setups(),
       description="Returns the mean squared error of the batch, computed before the update.",
       hint="Compute the loss once, before optimizer.step(), and return `loss.item()`.")
def returns_loss_before_update(sub, setup):
    pending = sub.start("run_train_step", **setup)
    expected = reference_trajectory(setup)[0]["loss"]  # computed while the submission runs
    expect_close("The returned loss", pending.result()[0]["loss"], expected, rtol=1e-5, atol=1e-6)


@check(points=4, examples=20, setup=training_setups(),
       description="One call makes exactly one optimizer step on this batch's MSE gradient.",
       hint=DETACH_HINT)
def updates_parameters_like_reference(sub, setup):
    follows_reference(sub, setup, DETACH_HINT)


@check(points=2, examples=15, setup=training_setups(leftover_grads=True),
       description="Gradients the model arrives with do not leak into the update.",
       hint=LEFTOVER_HINT)
def ignores_leftover_gradients(sub, setup):
    follows_reference(sub, setup, LEFTOVER_HINT)


@check(points=2, examples=10, setup=training_setups(n_batches=(2, 4)),
       description="Several calls with the same model and optimizer follow the reference training.",
       hint=STATE_HINT)
def trains_over_several_steps(sub, setup):
    follows_reference(sub, setup, STATE_HINT)
