"""Checks for gradient-accumulation: ``accumulated_step(model, optimizer, micro_batches) -> float``.

The reference is one plain step on the concatenated batch (``torch.cat``), with
``F.mse_loss`` averaged over every element, run here on an identical copy of the model.
Models (small MLPs) and optimizers (SGD with and without momentum, Adam) are plain data.
Adam is nearly blind to the scale of the gradient, so an unscaled accumulation is caught by
the SGD problems, which hypothesis always draws first.
"""

import torch
import torch.nn.functional as F
from hypothesis import strategies as st

from grader import specs
from grader.checks import CheckFailed, check, expect, expect_close, fmt
from grader.strategies import architectures, mse_step, optimizers, random_tensors, reference_model

SCALE_HINT = ("backward() adds up the gradients of the micro-batches; each micro-batch's mean "
              "loss must be scaled by its share of the full batch (len(x) / total rows), "
              "otherwise the step is k times too large.")
COUNT_HINT = ("Dividing every micro-batch's loss by the number of micro-batches is right only "
              "when they all have the same size: weight each one by its share of the rows, "
              "len(x) / total rows.")
LAST_ONLY_HINT = ("Only the last micro-batch's gradient reached the step: zero_grad() inside "
                  "the loop throws the earlier micro-batches' gradients away. Clear the gradients "
                  "once, before the loop.")
STEP_EACH_HINT = ("optimizer.step() ran once per micro-batch: accumulate the gradients of all "
                  "the micro-batches first, then call optimizer.step() once, after the loop.")
SUM_HINT = ("Your update matches the summed squared error: the loss is the mean over every "
            "element of the full batch, so the gradient is that of F.mse_loss with mean reduction.")
LOSS_HINT = ("Return the mean squared error of the whole batch, before the update: the sum of "
             "the micro-batch losses weighted by len(x) / total rows, not their plain average "
             "and not the last one.")
LAST_LOSS_HINT = ("You returned the loss of the last micro-batch only: return the loss of the "
                  "whole batch, the micro-batch losses weighted by len(x) / total rows and added up.")
AVERAGE_LOSS_HINT = ("You returned the plain average of the micro-batch losses, which gives a "
                     "small micro-batch as much weight as a large one: weight each loss by "
                     "len(x) / total rows.")
SUM_LOSS_HINT = ("You returned a sum: the loss is the mean squared error over every element of "
                 "the whole batch, the micro-batch means weighted by len(x) / total rows.")
PLAIN_HINT = ("With a single micro-batch, accumulated_step is a plain training step: "
              "zero_grad(), F.mse_loss(model(x), y), backward(), step().")


# ----------------------------------------------------------------------------- problems
# Built once: hypothesis validates a strategy object the first time it is drawn from.
ARCHITECTURES, OPTIMIZERS, SEEDS = architectures(), optimizers(), st.integers(0, 2**16)


@st.composite
def setups(draw, sizes):
    """A model spec with parameters, an optimizer spec and micro-batches with the given sizes."""
    layers = draw(ARCHITECTURES)
    row_counts = draw(sizes)
    seed = draw(SEEDS)
    shapes = specs.parameter_shapes(layers)
    n_in, n_out = layers[0][1], layers[-1][2]
    data = random_tensors(seed + 1, [s for b in row_counts for s in ((b, n_in), (b, n_out))])
    return {
        "layers": layers,
        "params": random_tensors(seed, shapes, scale=0.5),
        "optimizer": draw(OPTIMIZERS),
        "sizes": row_counts,
        "micro_batches": [[data[2 * i], data[2 * i + 1]] for i in range(len(row_counts))],
    }


@st.composite
def equal_sizes(draw):
    return [draw(st.integers(1, 4))] * draw(st.integers(2, 4))


@st.composite
def unequal_sizes(draw):
    sizes = draw(st.lists(st.integers(1, 6), min_size=2, max_size=4))
    if len(set(sizes)) == 1:
        sizes[-1] = sizes[-1] % 6 + 1  # 1 -> 2, ..., 6 -> 1: now they differ
    return sizes


def any_sizes(min_count=1):
    return st.lists(st.integers(1, 6), min_size=min_count, max_size=4)


# ----------------------------------------------------------------------------- references
def full_batch_step(setup):
    """The reference: one plain step on the concatenated batch; returns (loss, params)."""
    model, optimizer = reference_model(setup)
    x = torch.cat([x for x, _ in setup["micro_batches"]])
    y = torch.cat([y for _, y in setup["micro_batches"]])
    loss = mse_step(model, optimizer, x, y)
    return loss, [p.detach().clone() for p in model.parameters()]


def accumulation(setup, weights, *, step_each=False, reduction="mean"):
    """Parameters after accumulating ``weight * loss`` per micro-batch (the usual mistakes)."""
    model, optimizer = reference_model(setup)
    optimizer.zero_grad()
    for (x, y), weight in zip(setup["micro_batches"], weights):
        (F.mse_loss(model(x), y, reduction=reduction) * weight).backward()
        if step_each:
            optimizer.step()
            optimizer.zero_grad()
    if not step_each:
        optimizer.step()
    return [p.detach().clone() for p in model.parameters()]


def mistakes(setup):
    sizes = setup["sizes"]
    total, count = sum(sizes), len(sizes)
    share = [s / total for s in sizes]
    last_only = [0.0] * (count - 1)
    return [
        (SCALE_HINT, lambda: accumulation(setup, [1.0] * count)),
        (COUNT_HINT, lambda: accumulation(setup, [1.0 / count] * count)),
        (LAST_ONLY_HINT, lambda: accumulation(setup, last_only + [share[-1]])),
        (LAST_ONLY_HINT, lambda: accumulation(setup, last_only + [1.0])),
        (STEP_EACH_HINT, lambda: accumulation(setup, share, step_each=True)),
        (STEP_EACH_HINT, lambda: accumulation(setup, [1.0] * count, step_each=True)),
        (SUM_HINT, lambda: accumulation(setup, [1.0] * count, reduction="sum")),
    ]


def loss_hint(setup, got, default):
    """Name the usual mistake whose value the returned loss matches, if any."""
    if isinstance(got["steps"], int) and got["steps"] > 1:
        return STEP_EACH_HINT
    model = specs.model_from_spec(setup)
    with torch.no_grad():
        means = [F.mse_loss(model(x), y).item() for x, y in setup["micro_batches"]]
        sums = [F.mse_loss(model(x), y, reduction="sum").item() for x, y in setup["micro_batches"]]
    full = sum(m * s for m, s in zip(means, setup["sizes"])) / sum(setup["sizes"])
    candidates = [
        (LAST_LOSS_HINT, means[-1]),
        (AVERAGE_LOSS_HINT, sum(means) / len(means)),
        (SUM_LOSS_HINT, sum(sums)),
        (SUM_LOSS_HINT, sum(means)),
    ]
    for hint, value in candidates:
        if not loss_close(value, full) and loss_close(got["loss"], value):
            return hint
    return default


def loss_close(got, expected):
    """rtol 1e-5, atol 1e-6; NaN never matches."""
    return abs(got - expected) <= 1e-5 * abs(expected) + 1e-6


def params_close(got, expected):
    return all(g.shape == r.shape and torch.allclose(g.double(), r.double(), rtol=1e-4, atol=1e-5)
               for g, r in zip(got, expected))


def diagnose(setup, got_params, expected):
    for hint, params in mistakes(setup):
        wrong = params()
        if not params_close(wrong, expected) and params_close(got_params, wrong):
            return hint
    return None


def compare_update(sub, setup, hint):
    pending = sub.start("run_accumulated_step", **setup)
    _, expected = full_batch_step(setup)  # computed while the submission runs
    got = pending.result()
    got_params = [g.value for g in got["params"]]
    if params_close(got_params, expected):
        return
    if all(torch.equal(g, p) for g, p in zip(got_params, setup["params"])):
        raise CheckFailed("The parameters did not change: no optimizer step was applied.",
                          expected=expected[0], got=got_params[0],
                          hint="Call optimizer.step() once, after backward() has run on every micro-batch.")
    hint = diagnose(setup, got_params, expected) or hint
    for number, (g, r, before) in enumerate(zip(got_params, expected, setup["params"])):
        if g.shape == r.shape and torch.allclose(g.double(), r.double(), rtol=1e-4, atol=1e-5):
            continue
        moved = f"it moved by {fmt(g - before)}" if g.shape == r.shape else "its shape changed"
        raise CheckFailed(f"Parameter {number} does not match one step on the full batch: "
                          f"{moved}, and the full-batch step moves it by {fmt(r - before)}.",
                          expected=r, got=g, hint=hint)


# ----------------------------------------------------------------------------- checks
@check(points=2, examples=12, setup=setups(any_sizes()),
       description="Returns the mean squared error of the full batch, computed before the update.",
       hint=LOSS_HINT)
def returns_full_batch_loss(sub, setup):
    pending = sub.start("run_accumulated_step", **setup)
    expected, _ = full_batch_step(setup)  # computed while the submission runs
    got = pending.result()
    if not loss_close(got["loss"], expected):
        expect_close("The returned loss", got["loss"], expected, rtol=1e-5, atol=1e-6,
                     hint=loss_hint(setup, got, LOSS_HINT))


@check(points=3, examples=15, setup=setups(equal_sizes()),
       description="With micro-batches of equal sizes, the update equals one step on the full batch.",
       hint=SCALE_HINT)
def update_matches_full_batch_step(sub, setup):
    compare_update(sub, setup, SCALE_HINT)


@check(points=2, examples=15, setup=setups(unequal_sizes()),
       description="With micro-batches of different sizes, the update equals one step on the full batch.",
       hint=COUNT_HINT)
def weights_unequal_micro_batches(sub, setup):
    compare_update(sub, setup, COUNT_HINT)


@check(points=1, examples=8, setup=setups(st.integers(1, 6).map(lambda rows: [rows])),
       description="With a single micro-batch, the call is a plain training step (loss and update).",
       hint=PLAIN_HINT)
def single_micro_batch_is_a_plain_step(sub, setup):
    pending = sub.start("run_accumulated_step", **setup)
    loss, expected = full_batch_step(setup)  # computed while the submission runs
    got = pending.result()
    if not loss_close(got["loss"], loss):
        expect_close("The returned loss", got["loss"], loss, rtol=1e-5, atol=1e-6,
                     hint=loss_hint(setup, got, PLAIN_HINT))
    for number, (g, r) in enumerate(zip(got["params"], expected)):
        expect_close(f"Parameter {number} after the step", g, r, rtol=1e-4, atol=1e-5,
                     hint=PLAIN_HINT)


@check(points=2, examples=8, setup=setups(any_sizes(min_count=2)),
       description="Calls optimizer.step() exactly once, whatever the number of micro-batches.",
       hint=STEP_EACH_HINT)
def steps_exactly_once(sub, setup):
    steps = sub.call("run_accumulated_step", **setup)["steps"]
    expect(steps != 0, "optimizer.step() was never called on the optimizer you were given.",
           expected=1, got=steps,
           hint="Use the optimizer you are given, and call its step() once, after the loop.")
    expect(steps == 1, f"optimizer.step() was called {steps} times for "
           f"{len(setup['sizes'])} micro-batches.", expected=1, got=steps, hint=STEP_EACH_HINT)
