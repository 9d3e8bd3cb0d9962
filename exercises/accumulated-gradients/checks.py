"""Checks for accumulated-gradients: ``train(model, optimizer, batches, epochs) -> list[float]``.

Every example is a *session*: ``train`` is called one or more times on the same model, in a
single driver call, each time with its own batches and epochs, and either the same optimizer
(the run continues, its state included) or a new one handed over (the same model trained
again with other settings). The first call starts from clean gradients; a later call gets the
model as the previous call left it, gradients included. So clearing the gradients after
``step()`` is as correct as before ``backward()``; what must never happen is a step that uses
the sum of several batches' gradients.
"""

import math

import torch
from hypothesis import strategies as st

from grader import specs
from grader.checks import CheckFailed, check, expect, invariant
from grader.i18n.text import N_, T, TN
from grader.strategies import (layouts, mse_step, optimizers, random_tensors, reference_model,
                               sizes, training_setups)

ACCUMULATION_HINT = N_("backward() adds to .grad instead of replacing it: without "
                       "optimizer.zero_grad() every step uses the sum of all gradients so far. "
                       "Clear the gradients once per step (before backward() or after step()), "
                       "at every step of every call: a later call may get the model with the "
                       "gradients your previous call left.")
FLOAT_HINT = N_("Append `loss.item()` (a Python float) once per batch, in every epoch.")
MAX_STEPS = 30  # optimizer steps of one call (epochs x batches), at most


# ----------------------------------------------------------------------------- inputs
@st.composite
def sessions(draw, calls=(1, 1, 1)):
    """A model spec, an optimizer spec, a parameter layout and the list of ``train`` calls.

    A call is ``{"batches": [[x, y], ...], "epochs": n}``, plus ``"optimizer"`` when a new
    optimizer is built on the same model for it. Later calls train on the same batches or
    on new ones. ``calls = (low, typical, high)`` as in :func:`counts`. Each call makes
    1..``MAX_STEPS`` steps, most of them few.
    """
    n_batches = draw(counts(1, 3, 8))
    setup = draw(training_setups(n_batches=(n_batches, n_batches)))
    shapes = specs.parameter_shapes(setup["layers"])
    features = (setup["layers"][0][1], setup["layers"][-1][2])
    first = {"batches": setup.pop("batches"), "epochs": draw(epoch_counts(n_batches))}
    run = [first]
    for _ in range(1, draw(counts(*calls))):
        batches = first["batches"] if draw(st.booleans()) else draw(new_batches(*features))
        call = {"batches": batches, "epochs": draw(epoch_counts(len(batches)))}
        if draw(st.booleans()):
            call["optimizer"] = draw(optimizers(groups_of=len(shapes)))
        run.append(call)
    return {**setup, "layout": draw(layouts()), "calls": run}


@st.composite
def counts(draw, low, typical, high):
    """Mostly ``low..typical``, one draw in six ``low..high``; shrinks towards the short ones."""
    long = draw(st.integers(0, 5)) == 5
    return draw(st.integers(low, high if long else max(low, typical)))


def epoch_counts(n_batches):
    return counts(1, 2, max(1, MAX_STEPS // n_batches))


@st.composite
def new_batches(draw, n_in, n_out):
    rows = [draw(sizes(1, 64)) for _ in range(draw(counts(1, 3, 8)))]
    return batch_pairs(draw(st.integers(0, 2**16)), rows, n_in, n_out)


def batch_pairs(seed, rows, n_in, n_out):
    """Random ``[x, y]`` batches with the given row counts."""
    data = random_tensors(seed, [shape for b in rows for shape in ((b, n_in), (b, n_out))])
    return [[data[2 * i], data[2 * i + 1]] for i in range(len(rows))]


def session_of(layers, optimizer, calls, seed=0, layout="contiguous"):
    """A hand-written session (the explicit boundary examples): ``calls`` are
    ``(rows of each batch, epochs)`` or ``(rows, epochs, new optimizer spec)``."""
    shapes = specs.parameter_shapes(layers)
    n_in, n_out = layers[0][1], layers[-1][2]
    built = []
    for index, (rows, epochs, *new) in enumerate(calls):
        call = {"batches": batch_pairs(seed + 10 + index, rows, n_in, n_out), "epochs": epochs}
        if new:
            call["optimizer"] = new[0]
        built.append(call)
    return {"layers": layers, "params": random_tensors(seed, shapes, scale=0.5),
            "optimizer": optimizer, "layout": layout, "calls": built}


LINEAR_1_1 = [["linear", 1, 1]]
MLP = [["linear", 2, 3], ["tanh"], ["linear", 3, 1]]
SGD = {"name": "sgd", "lr": 0.1}
MOMENTUM_GROUPS = {"name": "sgd", "lr": 0.05, "momentum": 0.9,
                   "groups": [{"params": [0, 1]}, {"params": [2, 3], "lr": 0.1}]}
ADAM = {"name": "adam", "lr": 0.05}
ADAM_GROUPS = {"name": "adam", "lr": 0.01,
               "groups": [{"params": [0, 1]}, {"params": [2, 3], "lr": 0.05, "weight_decay": 0.01}]}
SINGLE_STEP = session_of(LINEAR_1_1, SGD, [([1], 1)])
CONTINUED_RUN = session_of(MLP, MOMENTUM_GROUPS, [([2, 3], 1), ([2, 3], 2), ([1], 1, ADAM)],
                           layout="transposed")
GROUPS_RUN = session_of(MLP, ADAM_GROUPS, [([4, 1], 2)])


# ----------------------------------------------------------------------------- reference
def reference_session(session):
    """For every call: its losses, and whether it ran to the end without diverging; then the
    parameters after it and the last batch's own gradient. Stops where the run diverges."""
    model, optimizer = reference_model(session)
    results = []
    for call in session["calls"]:
        if call.get("optimizer") is not None:
            optimizer = specs.build_optimizer(call["optimizer"], model.parameters())
        losses = []
        for _ in range(call["epochs"]):
            for x, y in call["batches"]:
                loss = mse_step(model, optimizer, x, y)
                if not numerically_sound(loss, [p.detach() for p in model.parameters()]):
                    results.append({"losses": losses, "complete": False})
                    return results
                losses.append(loss)
        results.append({"losses": losses, "complete": True,
                        "params": [p.detach().clone() for p in model.parameters()],
                        "last_grads": [p.grad.detach().clone() for p in model.parameters()]})
    return results


def numerically_sound(loss, params, limit=1e6):
    """False once a run has diverged (``maximize`` with a large learning rate overflows within
    a few steps): from there on float32 rounding, not the code, decides the numbers, so later
    steps are not compared."""
    return (math.isfinite(loss) and abs(loss) < limit ** 2
            and all(bool(torch.isfinite(p).all()) and float(p.abs().max()) < limit for p in params))


def complete_calls(got_calls, expected_calls):
    """(index, student's reply, reference result) for the calls the reference completed."""
    return [(index, got, ref) for index, (got, ref) in enumerate(zip(got_calls, expected_calls))
            if ref["complete"]]


def several_calls(session):
    """True for a session of several calls: its messages name the call (" (call 2 of 3)",
    "after call 2 of 3"); a single call's messages do not."""
    return len(session["calls"]) > 1


def call_params(session, index):
    """The placeholders ``{call}`` and ``{count}`` of "call 2 of 3", for messages."""
    return {"call": index + 1, "count": len(session["calls"])}


def step_name(session, index, step):
    """ "step 3 of call 2 (epoch 2, batch 1)" for messages."""
    call = session["calls"][index]
    epoch, batch = divmod(step, len(call["batches"]))
    if len(session["calls"]) == 1:
        return T("step {step} (epoch {epoch}, batch {batch})", step=step + 1, epoch=epoch + 1,
                 batch=batch + 1)
    return T("step {step} of call {call} (epoch {epoch}, batch {batch})", step=step + 1,
             call=index + 1, epoch=epoch + 1, batch=batch + 1)


def run_session(sub, session):
    """The student's replies and the reference results, computed while the student runs."""
    pending = sub.start("run_train", **session)
    expected = reference_session(session)
    got = pending.result()
    expect(isinstance(got, list) and len(got) == len(session["calls"]),
           N_("The driver did not report one result per call of train."))
    return got, expected


# ----------------------------------------------------------------------------- checks
@invariant(points=1, calls=("run_train",), examples=5, probe=sessions(calls=(1, 2, 3)),
           explicit=[SINGLE_STEP, CONTINUED_RUN],
           description=N_("Every call returns a list with one Python float per optimizer step "
                          "(epochs x batches), checked on every call."),
           hint=FLOAT_HINT)
def returns_one_loss_per_step(args, reply):
    several = several_calls(args)
    for index, (call, got) in enumerate(zip(args["calls"], reply)):
        where = call_params(args, index)
        expected = call["epochs"] * len(call["batches"])
        expect(got["container"] == "list",
               T("train must return a list, not a {container} (call {call} of {count}).",
                 container=got["container"], **where) if several else
               T("train must return a list, not a {container}.", container=got["container"]))
        losses = TN("{n} loss", "{n} losses", len(got["losses"]))
        batches = TN("{n} batch", "{n} batches", len(call["batches"]))
        expect(len(got["losses"]) == expected,
               TN("train returned {losses} for {n} epoch of {batches} (call {call} of {count}).",
                  "train returned {losses} for {n} epochs of {batches} (call {call} of {count}).",
                  call["epochs"], losses=losses, batches=batches, **where) if several else
               TN("train returned {losses} for {n} epoch of {batches}.",
                  "train returned {losses} for {n} epochs of {batches}.",
                  call["epochs"], losses=losses, batches=batches),
               expected=expected, got=len(got["losses"]))
        for step, (is_float, type_name) in enumerate(zip(got["is_float"], got["types"])):
            expect(is_float,
                   T("Loss {step} (call {call} of {count}) is a {type}, not a Python float.",
                     step=step, type=type_name, **where) if several else
                   T("Loss {step} is a {type}, not a Python float.", step=step, type=type_name),
                   hint=N_("`loss.item()` turns a one-element tensor into a Python float."))


@check(points=3, examples=12, session=sessions(calls=(1, 2, 3)),
       explicit=[{"session": SINGLE_STEP}, {"session": CONTINUED_RUN}],
       description=N_("Every recorded loss equals the reference loss of that step, before its update."),
       hint=ACCUMULATION_HINT)
def loss_list_matches_reference(sub, session):
    got_calls, expected_calls = run_session(sub, session)
    for index, (call, got) in enumerate(zip(session["calls"], got_calls)):
        losses, steps = got["losses"], call["epochs"] * len(call["batches"])
        expect(losses is not None and len(losses) == steps,
               T("The number of losses (call {call} of {count}) is not one per step.",
                 **call_params(session, index)) if several_calls(session) else
               N_("The number of losses is not one per step."),
               expected=steps, got=None if losses is None else len(losses))
    for index, (got, ref) in enumerate(zip(got_calls, expected_calls)):
        for step, (value, expected) in enumerate(zip(got["losses"], ref["losses"])):
            if value is None or not close(value, expected, rtol=1e-4, atol=1e-6):
                raise CheckFailed(T("The loss of {step} does not have the expected value.",
                                    step=step_name(session, index, step)),
                                  expected=expected, got=value)


@check(points=3, examples=12, session=sessions(calls=(1, 2, 3)),
       explicit=[{"session": GROUPS_RUN}, {"session": CONTINUED_RUN}],
       description=N_("After every call, the parameters equal the reference training's."),
       hint=ACCUMULATION_HINT)
def parameters_follow_reference(sub, session):
    got_calls, expected_calls = run_session(sub, session)
    for index, got, ref in complete_calls(got_calls, expected_calls):
        for number, (g, r) in enumerate(zip(got["params"], ref["params"])):
            if g.value.shape != r.shape or not close(g.value, r, rtol=1e-4, atol=1e-5):
                raise CheckFailed(
                    T("Parameter {number} after call {call} of {count} does not have the expected "
                      "value.", number=number, **call_params(session, index))
                    if several_calls(session) else
                    T("Parameter {number} after training does not have the expected value.",
                      number=number), expected=r, got=g)


@check(points=3, examples=12, session=sessions(calls=(1, 2, 3)),
       explicit=[{"session": CONTINUED_RUN}],
       description=N_("After every call, each .grad is cleared or holds the last batch's gradient "
                      "alone."),
       hint=ACCUMULATION_HINT)
def final_grads_are_last_batch_only(sub, session):
    got_calls, expected_calls = run_session(sub, session)
    for index, got, ref in complete_calls(got_calls, expected_calls):
        for number, (g, r) in enumerate(zip(got["params"], ref["last_grads"])):
            grad = g.grad
            if grad is None or not bool(grad.value.any()):
                continue  # cleared after the last step: fine
            if grad.value.shape != r.shape or not close(grad.value, r, rtol=1e-4, atol=1e-5):
                raise CheckFailed(
                    T("The gradient of parameter {number} after call {call} of {count} is neither "
                      "cleared nor the last batch's own gradient.", number=number,
                      **call_params(session, index))
                    if several_calls(session) else
                    T("The gradient of parameter {number} after training is neither cleared nor "
                      "the last batch's own gradient.", number=number),
                    expected=r, got=grad.value)


def close(got, expected, *, rtol, atol):
    """``got`` and ``expected`` (numbers or tensors of one shape) agree; NaN never does."""
    got_t = torch.as_tensor(got, dtype=torch.float64)
    expected_t = torch.as_tensor(expected, dtype=torch.float64)
    return bool(torch.allclose(got_t, expected_t, rtol=rtol, atol=atol))
