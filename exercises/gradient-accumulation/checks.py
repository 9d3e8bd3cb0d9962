"""Checks for gradient-accumulation: ``accumulated_step(model, optimizer, micro_batches) -> float``.

The reference is one plain step on the concatenated batch (``torch.cat``), with
``F.mse_loss`` averaged over every element, run here on an identical copy of the model.
Models (small MLPs) and optimizers (every SGD and Adam configuration, sometimes with two
parameter groups) are plain data. Leftover gradients may arrive, as the statement says:
a setup's ``grads`` (``None`` for a parameter without one) is put in ``p.grad`` before the
call, and the reference's ``zero_grad()`` ignores it.

Two contract properties are invariants, judged on every reply of every check: the returned
loss is the full-batch loss of the parameters the call started from, and ``optimizer.step()``
ran exactly once per call. ``training_loop_never_clears_gradients`` calls the function again
and again on the same model and optimizer, as a training loop does, in one driver call.
Adam is nearly blind to the scale of the gradient, so an unscaled accumulation is caught by
the SGD problems.
"""

import functools
import math

import torch
import torch.nn.functional as F
from hypothesis import strategies as st

from grader import specs
from grader.checks import CheckFailed, check, expect, expect_close, fmt, invariant
from grader.i18n.text import N_, T, TN
from grader.strategies import architectures, optimizers, random_tensors, sizes

SCALE_HINT = N_("backward() adds up the gradients of the micro-batches; each micro-batch's mean "
                "loss must be scaled by its share of the full batch (len(x) / total rows), "
                "otherwise the step is k times too large.")
COUNT_HINT = N_("Dividing every micro-batch's loss by the number of micro-batches is right only "
                "when they all have the same size: weight each one by its share of the rows, "
                "len(x) / total rows.")
LAST_ONLY_HINT = N_("Only the last micro-batch's gradient reached the step: zero_grad() inside "
                    "the loop throws the earlier micro-batches' gradients away. Clear the gradients "
                    "once, before the loop.")
STEP_EACH_HINT = N_("optimizer.step() ran once per micro-batch: accumulate the gradients of all "
                    "the micro-batches first, then call optimizer.step() once, after the loop.")
SUM_HINT = N_("Your update matches the summed squared error: the loss is the mean over every "
              "element of the full batch, so the gradient is that of F.mse_loss with mean reduction.")
LEFTOVER_HINT = N_("The parameters arrived with leftover gradients in .grad, and backward() added "
                   "the micro-batches' gradients to them: clear every parameter's gradient "
                   "(optimizer.zero_grad()) before the first backward(), not only after the step.")
LOOP_HINT = N_("accumulated_step is called again and again on the same model and optimizer, and "
               "the loop never clears the gradients: whatever .grad holds when your function starts "
               "(the previous call's gradients, or another backward()) must not reach the step. "
               "Clear the gradients at the start of every call, and keep nothing from one call to "
               "the next.")
LOSS_HINT = N_("Return the mean squared error of the whole batch, before the update: the sum of "
               "the micro-batch losses weighted by len(x) / total rows, not their plain average "
               "and not the last one.")
LAST_LOSS_HINT = N_("You returned the loss of the last micro-batch only: return the loss of the "
                    "whole batch, the micro-batch losses weighted by len(x) / total rows and added up.")
AVERAGE_LOSS_HINT = N_("You returned the plain average of the micro-batch losses, which gives a "
                       "small micro-batch as much weight as a large one: weight each loss by "
                       "len(x) / total rows.")
SUM_LOSS_HINT = N_("You returned a sum: the loss is the mean squared error over every element of "
                   "the whole batch, the micro-batch means weighted by len(x) / total rows.")
PLAIN_HINT = N_("With a single micro-batch, accumulated_step is a plain training step: "
                "zero_grad(), F.mse_loss(model(x), y), backward(), step().")


# ----------------------------------------------------------------------------- problems
def mostly_small(low, high, small):
    """``low..high``, three times in four from ``low..small`` (cheap to run and to shrink)."""
    return st.one_of(st.integers(low, small), st.integers(low, small), sizes(low, high, small))


# Built once: hypothesis validates a strategy object the first time it is drawn from.
ARCHITECTURES, SEEDS = architectures(), st.integers(0, 2**16)
ROWS = mostly_small(1, 64, 6)  # rows of one micro-batch
COUNTS = {low: mostly_small(low, 8, 4) for low in (1, 2)}  # micro-batches in one call
CALLS = sizes(2, 12, small=3)  # calls of one training loop
LEFTOVERS = st.sampled_from(["none", "all", "some"])  # which parameters hold a leftover .grad
LATER_LEFTOVERS = st.sampled_from(["none", "none", "all", "some"])  # added by the loop


@functools.cache
def optimizer_specs(parameter_count):
    return optimizers(groups_of=parameter_count)


def leftover_grads(kind, seed, shapes):
    """Leftover ``.grad`` values: none, one for every parameter, or for every other one."""
    if kind == "none":
        return None
    grads = random_tensors(seed, shapes)
    return grads if kind == "all" else [g if i % 2 else None for i, g in enumerate(grads)]


def micro_batches(seed, layers, row_counts):
    n_in, n_out = layers[0][1], layers[-1][2]
    data = random_tensors(seed, [s for b in row_counts for s in ((b, n_in), (b, n_out))])
    return [[data[2 * i], data[2 * i + 1]] for i in range(len(row_counts))]


def make_setup(layers, row_counts, optimizer, seed, leftover):
    """One call's problem as plain data (also used to write the explicit examples)."""
    shapes = specs.parameter_shapes(layers)
    return {
        "layers": layers,
        "params": random_tensors(seed, shapes, scale=0.5),
        "optimizer": optimizer,
        "grads": leftover_grads(leftover, seed + 2, shapes),
        "leftover": leftover,
        "sizes": list(row_counts),
        "micro_batches": micro_batches(seed + 1, layers, row_counts),
    }


@st.composite
def setups(draw, row_counts):
    layers = draw(ARCHITECTURES)
    counts = draw(row_counts)
    seed = draw(SEEDS)
    optimizer = draw(optimizer_specs(len(specs.parameter_shapes(layers))))
    return make_setup(layers, counts, optimizer, seed, draw(LEFTOVERS))


@st.composite
def equal_sizes(draw):
    return [draw(ROWS)] * draw(COUNTS[2])


@st.composite
def unequal_sizes(draw):
    counts = [draw(ROWS) for _ in range(draw(COUNTS[2]))]
    if len(set(counts)) == 1:
        counts[-1] = counts[-1] % 64 + 1  # 1 -> 2, ..., 64 -> 1: now they differ
    return counts


def row_lists(draw, min_count=1):
    return [draw(ROWS) for _ in range(draw(COUNTS[min_count]))]


@st.composite
def any_sizes(draw, min_count=1):
    return row_lists(draw, min_count)


@st.composite
def training_loops(draw):
    """A model, an optimizer and 2-12 calls, each with its own micro-batches; before some calls
    the loop adds more leftover gradients."""
    layers = draw(ARCHITECTURES)
    seed = draw(SEEDS)
    shapes = specs.parameter_shapes(layers)
    optimizer = draw(optimizer_specs(len(shapes)))
    first = draw(LEFTOVERS)
    calls = []
    for number in range(draw(CALLS)):
        row_counts = row_lists(draw)
        extra = draw(LATER_LEFTOVERS) if number else "none"
        call_seed = seed + 16 * (number + 1)
        calls.append({"sizes": row_counts, "leftover": extra,
                      "grads": leftover_grads(extra, call_seed, shapes),
                      "micro_batches": micro_batches(call_seed + 1, layers, row_counts)})
    return loop_setup(layers, optimizer, seed, first, calls)


def loop_setup(layers, optimizer, seed, leftover, calls):
    shapes = specs.parameter_shapes(layers)
    return {"layers": layers, "params": random_tensors(seed, shapes, scale=0.5),
            "optimizer": optimizer, "grads": leftover_grads(leftover, seed + 2, shapes),
            "leftover": leftover, "calls": calls}


def explicit_call(layers, row_counts, seed, leftover):
    shapes = specs.parameter_shapes(layers)
    return {"sizes": row_counts, "leftover": leftover,
            "grads": leftover_grads(leftover, seed, shapes),
            "micro_batches": micro_batches(seed + 1, layers, row_counts)}


# The boundaries the statement names: one micro-batch, one row (B = 1), leftover gradients.
TINY = [["linear", 2, 1]]
HIDDEN = [["linear", 2, 3], ["tanh"], ["linear", 3, 1]]
SGD = {"name": "sgd", "lr": 0.1}
MOMENTUM = {"name": "sgd", "lr": 0.1, "momentum": 0.9}
ADAM = {"name": "adam", "lr": 0.01}
ADAM_TWO_GROUPS = {"name": "adam", "lr": 0.01,
                   "groups": [{"params": [0, 1]}, {"params": [2, 3], "lr": 0.05, "weight_decay": 0.05}]}
ONE_ROW_LEFTOVER = make_setup(TINY, [1], SGD, 7, "all")
TWO_ROWS_LEFTOVER = make_setup(TINY, [1, 1], SGD, 8, "all")
UNEQUAL_LEFTOVER = make_setup(HIDDEN, [1, 2], MOMENTUM, 9, "some")
EIGHT_MICRO_BATCHES = make_setup(TINY, [1, 2, 1, 3, 1, 2, 1, 1], ADAM, 10, "none")
LOOP_OF_TWO = loop_setup(TINY, MOMENTUM, 11, "none",
                         [explicit_call(TINY, [1], 12, "none"), explicit_call(TINY, [2], 13, "none")])
LOOP_WITH_LEFTOVER = loop_setup(HIDDEN, ADAM_TWO_GROUPS, 14, "all",
                                [explicit_call(HIDDEN, [1, 2], 15, "none"),
                                 explicit_call(HIDDEN, [2], 16, "all")])


# ----------------------------------------------------------------------------- references
forward = specs.functional_forward


class Reference:
    """The model of a setup as leaf tensors with its optimizer (and leftover gradients)."""

    def __init__(self, setup):
        self.layers = setup["layers"]
        self.params = [p.detach().clone().requires_grad_() for p in setup["params"]]
        for p, g in zip(self.params, setup.get("grads") or ()):
            p.grad = None if g is None else g.clone()
        self.optimizer = specs.build_optimizer(setup["optimizer"], self.params)

    def loss(self, x, y, reduction="mean"):
        return F.mse_loss(forward(self.layers, self.params, x), y, reduction=reduction)

    def step(self, batches):
        """The correct step on the concatenated batch; returns the loss before it."""
        self.optimizer.zero_grad()
        loss = self.loss(*concatenated(batches))
        loss.backward()
        self.optimizer.step()
        return loss.item()

    def values(self):
        return [p.detach().clone() for p in self.params]


def concatenated(batches):
    return torch.cat([x for x, _ in batches]), torch.cat([y for _, y in batches])


def full_batch_step(setup):
    """The reference: one plain step on the concatenated batch; returns (loss, params)."""
    reference = Reference(setup)
    loss = reference.step(setup["micro_batches"])
    return loss, reference.values()


def loop_reference(loop):
    """The parameters after each call of the loop: one plain full-batch step per call."""
    reference = Reference(loop)
    after = []
    for call in loop["calls"]:
        reference.step(call["micro_batches"])
        after.append(reference.values())
    return after


def full_batch_loss(layers, params, batches):
    """The MSE of the concatenated batch for these parameters (no gradient, no update)."""
    x, y = concatenated(batches)
    with torch.no_grad():
        return F.mse_loss(forward(layers, params, x), y).item()


def micro_batch_gradients(setup):
    """The gradient of each micro-batch's mean loss, at the parameters the call started from."""
    reference = Reference(setup)
    return [torch.autograd.grad(reference.loss(x, y), reference.params)
            for x, y in setup["micro_batches"]]


def step_with(setup, gradients):
    """The parameters after one step of the setup's optimizer with these gradients in ``.grad``."""
    reference = Reference(setup)
    for p, g in zip(reference.params, gradients):
        p.grad = g.clone()
    reference.optimizer.step()
    return reference.values()


def mistakes(setup):
    """``(hint, parameters)`` of the usual one-step mistakes, lazily: each is one step with a
    combination of the micro-batches' gradients (one backward per micro-batch in all)."""
    row_counts = setup["sizes"]
    total, count = sum(row_counts), len(row_counts)
    share = [s / total for s in row_counts]
    elements = [y.numel() for _, y in setup["micro_batches"]]
    per_batch = micro_batch_gradients(setup)

    def combined(weights, leftover=None):
        sums = [sum(w * g[i] for w, g in zip(weights, per_batch)) for i in range(len(per_batch[0]))]
        if leftover is not None:
            sums = [s if l is None else s + l for s, l in zip(sums, leftover)]
        return step_with(setup, sums)

    if setup.get("grads") is not None:
        yield LEFTOVER_HINT, lambda: combined(share, setup["grads"])
    yield SCALE_HINT, lambda: combined([1.0] * count)
    yield COUNT_HINT, lambda: combined([1.0 / count] * count)
    yield LAST_ONLY_HINT, lambda: combined([0.0] * (count - 1) + [share[-1]])
    yield LAST_ONLY_HINT, lambda: combined([0.0] * (count - 1) + [1.0])
    yield SUM_HINT, lambda: combined(elements)


def loss_hint(problem, got, default):
    """Name the usual mistake whose value the returned loss matches, if any.

    ``problem`` holds the layers, the parameters the call started from and its micro-batches.
    """
    if isinstance(got["steps"], int) and got["steps"] > 1:
        return STEP_EACH_HINT
    layers, params, batches = problem["layers"], problem["params"], problem["micro_batches"]
    with torch.no_grad():
        means = [F.mse_loss(forward(layers, params, x), y).item() for x, y in batches]
        sums = [F.mse_loss(forward(layers, params, x), y, reduction="sum").item() for x, y in batches]
    rows = [len(x) for x, _ in batches]
    full = sum(m * s for m, s in zip(means, rows)) / sum(rows)
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


def all_finite(tensors):
    return all(bool(torch.isfinite(t).all()) for t in tensors)


def diagnose(setup, got_params, expected, steps=1):
    """The hint of the usual mistake whose parameters the answer holds, if any."""
    if isinstance(steps, int) and steps > 1:
        return STEP_EACH_HINT
    for hint, params in mistakes(setup):
        wrong = params()
        if not params_close(wrong, expected) and params_close(got_params, wrong):
            return hint
    return None


def expect_parameters(got_params, expected, before, hint, call=None):
    """Every parameter matches the full-batch step; the message names the first that does not.
    ``call``: ``(number, count)`` of the call in a training loop, for the message."""
    for number, (g, r, start) in enumerate(zip(got_params, expected, before)):
        if g.shape == r.shape and torch.allclose(g.double(), r.double(), rtol=1e-4, atol=1e-5):
            continue
        moved = (T("it moved by {delta}", delta=fmt(g - start)) if g.shape == start.shape
                 else T("its shape changed"))
        if call is None:
            message = T("Parameter {number} does not match one step on the full batch: {moved}, and "
                        "the full-batch step moves it by {delta}.", number=number, moved=moved,
                        delta=fmt(r - start))
        else:
            message = T("After call {call} of {count} (same model and optimizer, gradients never "
                        "cleared by the loop): Parameter {number} does not match one step on the "
                        "full batch: {moved}, and the full-batch step moves it by {delta}.",
                        call=call[0], count=call[1], number=number, moved=moved,
                        delta=fmt(r - start))
        raise CheckFailed(message, expected=r, got=g, hint=hint)


def compare_update(sub, setup, hint):
    pending = sub.start("run_accumulated_step", **setup)
    _, expected = full_batch_step(setup)  # computed while the submission runs
    got = pending.result()
    got_params = [g.value for g in got["params"]]
    if not all_finite(expected) or params_close(got_params, expected):
        return  # a diverging reference (e.g. lr 3 in a second group) judges nothing
    if all(torch.equal(g, p) for g, p in zip(got_params, setup["params"])):
        raise CheckFailed(N_("The parameters did not change: no optimizer step was applied."),
                          expected=expected[0], got=got_params[0],
                          hint=N_("Call optimizer.step() once, after backward() has run on every "
                                  "micro-batch."))
    hint = diagnose(setup, got_params, expected, got["steps"]) or hint
    expect_parameters(got_params, expected, setup["params"], hint)


def call_problems(args, reply):
    """``(problem, reply)`` for every call a reply reports: the problem holds the parameters
    that call started from (for a loop: those the previous call left)."""
    if "calls" not in args:
        return [(args, reply)]
    problems, params = [], args["params"]
    for call, report in zip(args["calls"], reply["calls"]):
        problems.append(({"layers": args["layers"], "params": params,
                          "micro_batches": call["micro_batches"]}, report))
        params = [p.value for p in report["params"]]
    return problems


# ----------------------------------------------------------------------------- invariants
WATCHED = ("run_accumulated_step", "run_training_loop")
INVARIANT_SHRINK_CALLS = 6  # their own probes: every other check's calls are watched too


@invariant(points=2, calls=WATCHED, probe=setups(any_sizes()), examples=3,
           explicit=[ONE_ROW_LEFTOVER], shrink_calls=INVARIANT_SHRINK_CALLS,
           description=N_("Returns the mean squared error of the full batch, computed before the "
                          "update (checked on every call)."),
           hint=LOSS_HINT)
def returns_full_batch_loss(args, reply):
    for number, (problem, report) in enumerate(call_problems(args, reply)):
        expected = full_batch_loss(problem["layers"], problem["params"], problem["micro_batches"])
        if not math.isfinite(expected) or loss_close(report["loss"], expected):
            continue  # a diverged model's loss judges nothing
        what = (T("In call {call} of the training loop, the returned loss", call=number + 1)
                if "calls" in args else T("The returned loss"))
        expect_close(what, report["loss"], expected, rtol=1e-5, atol=1e-6,
                     hint=loss_hint(problem, report, LOSS_HINT))


@invariant(points=2, calls=WATCHED, probe=setups(any_sizes(min_count=2)), examples=3,
           shrink_calls=INVARIANT_SHRINK_CALLS,
           description=N_("Calls optimizer.step() exactly once per call, whatever the number of "
                          "micro-batches (checked on every call)."),
           hint=STEP_EACH_HINT)
def steps_exactly_once(args, reply):
    for number, (problem, report) in enumerate(call_problems(args, reply)):
        steps = report["steps"]
        in_loop = "calls" in args
        expect(steps != 0,
               T("optimizer.step() was never called in call {call} of the training loop on the "
                 "optimizer you were given.", call=number + 1) if in_loop else
               N_("optimizer.step() was never called on the optimizer you were given."),
               expected=1, got=steps,
               hint=N_("Use the optimizer you are given, and call its step() once, after the loop."))
        times, count = TN("{n} time", "{n} times", steps), len(problem["micro_batches"])
        expect(steps == 1,
               TN("optimizer.step() was called {times} in call {call} of the training loop for "
                  "{n} micro-batch.",
                  "optimizer.step() was called {times} in call {call} of the training loop for "
                  "{n} micro-batches.", count, times=times, call=number + 1) if in_loop else
               TN("optimizer.step() was called {times} for {n} micro-batch.",
                  "optimizer.step() was called {times} for {n} micro-batches.", count, times=times),
               expected=1, got=steps, hint=STEP_EACH_HINT)


# ----------------------------------------------------------------------------- checks
# Shrinking budgets (sandbox calls after the first failure): a failing submission usually
# fails all four update checks, and a loop costs as much as several single calls.
SHRINK_CALLS, LOOP_SHRINK_CALLS = 8, 4


@check(points=2, examples=10, setup=setups(equal_sizes()), explicit=[{"setup": TWO_ROWS_LEFTOVER}],
       shrink_calls=SHRINK_CALLS,
       description=N_("With micro-batches of equal sizes, the update equals one step on the full batch."),
       hint=SCALE_HINT)
def update_matches_full_batch_step(sub, setup):
    compare_update(sub, setup, SCALE_HINT)


@check(points=2, examples=10, setup=setups(unequal_sizes()), shrink_calls=SHRINK_CALLS,
       explicit=[{"setup": UNEQUAL_LEFTOVER}, {"setup": EIGHT_MICRO_BATCHES}],
       description=N_("With micro-batches of different sizes, the update equals one step on the full "
                      "batch."),
       hint=COUNT_HINT)
def weights_unequal_micro_batches(sub, setup):
    compare_update(sub, setup, COUNT_HINT)


@check(points=1, examples=8, setup=setups(ROWS.map(lambda rows: [rows])), shrink_calls=SHRINK_CALLS,
       explicit=[{"setup": ONE_ROW_LEFTOVER}],
       description=N_("With a single micro-batch, the call is a plain training step."),
       hint=PLAIN_HINT)
def single_micro_batch_is_a_plain_step(sub, setup):
    pending = sub.start("run_accumulated_step", **setup)
    _, expected = full_batch_step(setup)  # computed while the submission runs
    got = pending.result()
    got_params = [g.value for g in got["params"]]
    if not all_finite(expected) or params_close(got_params, expected):
        return
    hint = diagnose(setup, got_params, expected, got["steps"]) or PLAIN_HINT
    expect_parameters(got_params, expected, setup["params"], hint)


@check(points=1, examples=6, loop=training_loops(), shrink_calls=LOOP_SHRINK_CALLS,
       explicit=[{"loop": LOOP_OF_TWO}, {"loop": LOOP_WITH_LEFTOVER}],
       description=N_("Called again and again on the same model and optimizer by a loop that never "
                      "clears the gradients, every call makes the full-batch step."),
       hint=LOOP_HINT)
def training_loop_never_clears_gradients(sub, loop):
    pending = sub.start("run_training_loop", **loop)
    expected = loop_reference(loop)  # computed while the submission runs
    reports = pending.result()["calls"]
    expect(len(reports) == len(loop["calls"]), N_("The training loop did not report every call."))
    before = loop["params"]
    for number, (report, reference) in enumerate(zip(reports, expected)):
        if not all_finite(reference):
            return  # the reference diverged: nothing after this call can be judged
        got = [p.value for p in report["params"]]
        hint = LOOP_HINT
        if number == 0 and not params_close(got, reference):
            first = {**loop["calls"][0], "layers": loop["layers"], "params": loop["params"],
                     "optimizer": loop["optimizer"], "grads": loop["grads"]}
            hint = diagnose(first, got, reference, report["steps"]) or LOOP_HINT
        expect_parameters(got, reference, before, hint, call=(number + 1, len(reports)))
        before = got
