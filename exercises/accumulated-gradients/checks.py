"""Checks for accumulated-gradients: ``train(model, optimizer, batches, epochs) -> list[float]``.

Training starts from clean gradients, so clearing them after ``step()`` is as correct as
before ``backward()``; what must never happen is a step that uses the sum of several
batches' gradients.
"""

import torch
from hypothesis import strategies as st

from grader.checks import CheckFailed, check, expect, expect_close
from grader.strategies import mse_step, reference_model, training_setups

ACCUMULATION_HINT = ("backward() adds to .grad instead of replacing it: without "
                     "optimizer.zero_grad() every step uses the sum of all gradients so far. "
                     "Clear the gradients once per step (before backward() or after step()).")


@st.composite
def runs(draw):
    setup = draw(training_setups(n_batches=(1, 4)))
    low = 2 if len(setup["batches"]) == 1 else 1  # at least two steps, so accumulation shows
    return {**setup, "epochs": draw(st.integers(low, 3))}


def reference_run(run):
    """Losses, final parameters, and the last batch's own gradient at the last step."""
    model, optimizer = reference_model(run)
    losses = []
    last_grads = None
    for _ in range(run["epochs"]):
        for x, y in run["batches"]:
            losses.append(mse_step(model, optimizer, x, y))
            last_grads = [p.grad.detach().clone() for p in model.parameters()]
    return losses, [p.detach().clone() for p in model.parameters()], last_grads


@check(points=1, examples=10, run=runs(),
       description="Returns a list with one Python float per optimizer step (epochs x batches).",
       hint="Append `loss.item()` (a Python float) once per batch, in every epoch.")
def returns_one_loss_per_step(sub, run):
    got = sub.call("run_train", **run)
    expected = run["epochs"] * len(run["batches"])
    expect(got["container"] == "list", f"train must return a list, not a {got['container']}.")
    expect(len(got["losses"]) == expected, f"train returned {len(got['losses'])} losses for "
           f"{run['epochs']} epoch(s) of {len(run['batches'])} batch(es).",
           expected=expected, got=len(got["losses"]))
    for index, (is_float, type_name) in enumerate(zip(got["is_float"], got["types"])):
        expect(is_float, f"Loss {index} is a {type_name}, not a Python float.",
               hint="`loss.item()` turns a one-element tensor into a Python float.")


@check(points=3, examples=15, run=runs(),
       description="Every recorded loss equals the reference loss of that step, before its update.",
       hint=ACCUMULATION_HINT)
def loss_list_matches_reference(sub, run):
    pending = sub.start("run_train", **run)
    losses, _, _ = reference_run(run)  # computed while the submission runs
    got = pending.result()
    expect(len(got["losses"]) == len(losses), "The number of losses is not one per step.",
           expected=len(losses), got=len(got["losses"]))
    expect_close("The list of losses", torch.tensor(got["losses"]), torch.tensor(losses),
                 rtol=1e-4, atol=1e-6)


@check(points=3, examples=15, run=runs(),
       description="After training, the parameters equal the reference training's.",
       hint=ACCUMULATION_HINT)
def parameters_follow_reference(sub, run):
    pending = sub.start("run_train", **run)
    _, params, _ = reference_run(run)
    got = pending.result()
    for number, (g, r) in enumerate(zip(got["params"], params)):
        expect_close(f"Parameter {number} after training", g, r, rtol=1e-4, atol=1e-5)


@check(points=3, examples=15, run=runs(),
       description="After training, each .grad is cleared or holds the last batch's gradient alone.",
       hint=ACCUMULATION_HINT)
def final_grads_are_last_batch_only(sub, run):
    pending = sub.start("run_train", **run)
    _, _, last_grads = reference_run(run)
    got = pending.result()
    for number, (g, r) in enumerate(zip(got["params"], last_grads)):
        grad = g.grad
        if grad is None or not bool(grad.value.any()):
            continue  # cleared after the last step: fine
        if grad.value.shape != r.shape or not torch.allclose(grad.value, r, rtol=1e-4, atol=1e-5):
            raise CheckFailed(f"The gradient of parameter {number} after training is neither "
                              "cleared nor the last batch's own gradient.",
                              expected=r, got=grad.value, hint=ACCUMULATION_HINT)
