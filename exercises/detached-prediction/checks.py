"""Checks for detached-prediction: ``train_step(model, optimizer, x, y) -> float``.

Every example is a *session*: one model and optimizer, handed to ``train_step`` once per
step, in a single driver call. Before a step the model may receive leftover gradients (as
if other code had run ``backward()``), or a new optimizer (the same model trained again with
other settings). Models are small MLPs whose parameters may be non-contiguous; optimizers are
any SGD or Adam configuration, with one or two parameter groups. The reference runs the same
session here with real torch.optim on contiguous copies of the parameters.
"""

import math

import torch
import torch.nn.functional as F
from hypothesis import strategies as st

from grader import specs
from grader.checks import CheckFailed, check, expect, expect_close, invariant
from grader.i18n.text import N_, T
from grader.strategies import (layouts, mse_step, optimizers, random_tensors, reference_model,
                               training_setups)

DETACH_HINT = N_("A detached prediction (or one computed under torch.no_grad()) is cut off from "
                 "the model: backward() cannot reach the parameters, so their .grad stays None and "
                 "optimizer.step() changes nothing. Compute the loss from `model(x)` itself.")
LEFTOVER_HINT = N_("backward() adds to .grad. Gradients the model arrives with (before the first "
                   "call or any later one) are added to this batch's gradient unless you clear the "
                   "gradients of every parameter, e.g. with optimizer.zero_grad(), before "
                   "backward().")
STATE_HINT = N_("The optimizer keeps state between calls (momentum buffers, Adam's averages): use "
                "the optimizer you are given at each call, as it is, and clear gradients before "
                "every backward().")
FLOAT_HINT = N_("Compute the loss once, before optimizer.step(), and return `loss.item()` "
                "(a Python float) on every call.")

ACTIVATION_FUNCTIONS = {"tanh": torch.tanh, "relu": torch.relu, "sigmoid": torch.sigmoid}


# ----------------------------------------------------------------------------- inputs
@st.composite
def sessions(draw, calls=(1, 1, 1), leftovers=False, new_optimizers=False):
    """A model spec, an optimizer spec, a parameter layout and a list of steps.

    ``calls = (low, typical, high)``: most sessions make ``low..typical`` calls, one in six
    up to ``high`` (so that long runs are reached, while most examples stay quick).

    A step is ``{"x", "y"}`` plus, with ``leftovers``, maybe ``"grads"`` (set on the model just
    before the call; the first step always has them) and, with ``new_optimizers``, maybe
    ``"optimizer"`` (a new optimizer built on the same model just before the call).
    """
    count = draw(counts(*calls))
    setup = draw(training_setups(n_batches=(count, count)))
    shapes = specs.parameter_shapes(setup["layers"])
    steps = [{"x": x, "y": y} for x, y in setup.pop("batches")]
    if leftovers:
        seed = draw(st.integers(0, 2**16))
        for index, step in enumerate(steps):
            if index == 0 or draw(st.booleans()):
                step["grads"] = leftover_gradients(draw, shapes, seed + index)
    if new_optimizers:
        for step in steps[1:]:
            if draw(st.integers(0, 3)) == 0:
                step["optimizer"] = draw(optimizers(groups_of=len(shapes)))
    return {**setup, "layout": draw(layouts()), "steps": steps}


@st.composite
def counts(draw, low, typical, high):
    """Mostly ``low..typical``, one draw in six ``low..high``; shrinks towards the short ones."""
    long = draw(st.integers(0, 5)) == 5
    return draw(st.integers(low, high if long else typical))


def leftover_gradients(draw, shapes, seed):
    """Non-zero gradients for most parameters (``None`` for some: they never had one)."""
    grads = random_tensors(seed, shapes)
    present = draw(st.lists(st.integers(0, 3), min_size=len(shapes), max_size=len(shapes)))
    present[0] = 1  # at least one parameter has a leftover gradient
    return [g if keep else None for g, keep in zip(grads, present)]


def session_of(layers, optimizer, steps, seed=0, layout="contiguous"):
    """A hand-written session (the explicit boundary examples); ``steps`` are row counts, or
    ``(rows, extra)`` with extra keys for the step (``"grads": True`` draws leftovers)."""
    shapes = specs.parameter_shapes(layers)
    n_in, n_out = layers[0][1], layers[-1][2]
    built = []
    for index, step in enumerate(steps):
        rows, extra = step if isinstance(step, tuple) else (step, {})
        x, y = random_tensors(seed + 10 + index, [(rows, n_in), (rows, n_out)])
        entry = {"x": x, "y": y, **extra}
        if entry.get("grads") is True:
            entry["grads"] = random_tensors(seed + 20 + index, shapes)
        built.append(entry)
    return {"layers": layers, "params": random_tensors(seed, shapes, scale=0.5),
            "optimizer": optimizer, "layout": layout, "steps": built}


LINEAR_1_1 = [["linear", 1, 1]]
MLP = [["linear", 3, 4], ["relu"], ["linear", 4, 2]]
ADAM_GROUPS = {"name": "adam", "lr": 0.01, "amsgrad": True,
               "groups": [{"params": [0, 1]}, {"params": [2, 3], "lr": 0.05, "weight_decay": 0.01}]}
ADAM = {"name": "adam", "lr": 0.05}
NESTEROV = {"name": "sgd", "lr": 0.05, "momentum": 0.9, "nesterov": True, "weight_decay": 0.01}


# ----------------------------------------------------------------------------- reference
def reference_steps(session):
    """The parameters after every step of the correct session, up to where it diverges."""
    model, optimizer = reference_model(session)
    steps = []
    for step in session["steps"]:
        if step.get("optimizer") is not None:
            optimizer = specs.build_optimizer(step["optimizer"], model.parameters())
        if step.get("grads") is not None:
            specs.set_gradients(model, step["grads"])
        loss = mse_step(model, optimizer, step["x"], step["y"])
        params = [p.detach().clone() for p in model.parameters()]
        if not numerically_sound(loss, params):
            break
        steps.append({"params": params})
    return steps


def numerically_sound(loss, params, limit=1e6):
    """False once a run has diverged (``maximize`` with a large learning rate overflows within
    a few steps): from there on float32 rounding, not the code, decides the numbers, so later
    steps are not compared."""
    return (math.isfinite(loss) and abs(loss) < limit ** 2
            and all(bool(torch.isfinite(p).all()) and float(p.abs().max()) < limit for p in params))


def mse_of(layers, params, x, y):
    """The MSE of the MLP ``layers`` with parameter values ``params`` on ``(x, y)``."""
    h, index = x, 0
    for layer in layers:
        if layer[0] == "linear":
            h = F.linear(h, params[index], params[index + 1])
            index += 2
        else:
            h = ACTIVATION_FUNCTIONS[layer[0]](h)
    return F.mse_loss(h, y).item()


def describe_step(session, index):
    """ "after call 2 of 3 (leftover gradients arrived before it)" for messages; None for a
    session of one call without leftover gradients (its messages name no call)."""
    steps = session["steps"]
    if len(steps) == 1 and steps[0].get("grads") is None:
        return None
    where = {"call": index + 1, "count": len(steps)}
    leftovers = steps[index].get("grads") is not None
    if steps[index].get("optimizer") is not None:
        if leftovers:
            return T("after call {call} of {count} (leftover gradients arrived before it, a new "
                     "optimizer was handed over before it)", **where)
        return T("after call {call} of {count} (a new optimizer was handed over before it)", **where)
    if leftovers:
        return T("after call {call} of {count} (leftover gradients arrived before it)", **where)
    return T("after call {call} of {count}", **where)


def compare_parameters(got_steps, ref_steps, session, hint):
    """Every call's parameters against the reference's (as far as the reference is sound)."""
    expect(isinstance(got_steps, list) and len(got_steps) == len(session["steps"]),
           N_("The driver did not report one result per call."))
    before_got, before_ref = list(session["params"]), list(session["params"])
    for index, (got, ref) in enumerate(zip(got_steps, ref_steps)):
        where = describe_step(session, index)
        values = [g.value for g in got["params"]]
        if all(torch.equal(v, b) for v, b in zip(values, before_got)) and \
                not all(torch.equal(r, b) for r, b in zip(ref["params"], before_ref)):
            raise CheckFailed(N_("The parameters did not change.") if where is None else
                              T("The parameters did not change {where}.", where=where),
                              expected=ref["params"][0], got=got["params"][0].value, hint=DETACH_HINT)
        for number, (g, r) in enumerate(zip(got["params"], ref["params"])):
            what = (T("Parameter {number}", number=number) if where is None else
                    T("Parameter {number} {where}", number=number, where=where))
            expect_close(what, g, r, rtol=1e-4, atol=1e-5, hint=hint)
        before_got, before_ref = values, ref["params"]


def follows_reference(sub, session, hint):
    pending = sub.start("run_train_step", **session)
    expected = reference_steps(session)  # computed while the submission runs
    compare_parameters(pending.result(), expected, session, hint)


# ----------------------------------------------------------------------------- checks
@invariant(points=2, calls=("run_train_step",), examples=5,
           probe=sessions(calls=(1, 3, 3), leftovers=True),
           explicit=[session_of(LINEAR_1_1, {"name": "sgd", "lr": 0.1}, [1, 2])],
           description=N_("Every call returns a Python float: the MSE of the batch, computed before "
                          "the update (checked on every call)."),
           hint=FLOAT_HINT)
def returns_loss_before_update(args, reply):
    """The loss each call returned is a float equal to the MSE at the parameters the model
    had when that call began (the reported parameters after the previous call)."""
    shapes = specs.parameter_shapes(args["layers"])
    before = list(args["params"])
    for index, (step, got) in enumerate(zip(args["steps"], reply)):
        where = describe_step(args, index)
        expect(got["is_float"],
               T("train_step returned a {type}, not a Python float.", type=got["type"]) if where is None
               else T("train_step returned a {type} {where}, not a Python float.", type=got["type"],
                      where=where),
               hint=FLOAT_HINT)
        expected = mse_of(args["layers"], before, step["x"], step["y"])
        if torch.isfinite(torch.tensor(expected)):
            what = (T("The returned loss") if where is None else
                    T("The returned loss {where}", where=where))
            expect_close(what, got["loss"], expected, rtol=1e-5, atol=1e-6, hint=FLOAT_HINT)
        before = [g.value for g in got["params"]]
        if [(tuple(p.shape), p.dtype) for p in before] != [(s, torch.float32) for s in shapes]:
            return  # the parameters were replaced or converted: the update checks report that


@check(points=4, examples=16, graph=True, session=sessions(),
       explicit=[{"session": session_of(LINEAR_1_1, {"name": "sgd", "lr": 0.1}, [1])},
                 {"session": session_of(MLP, ADAM_GROUPS, [64], layout="transposed")}],
       description=N_("One call makes exactly one optimizer step on this batch's MSE gradient."),
       hint=DETACH_HINT)
def updates_parameters_like_reference(sub, session):
    follows_reference(sub, session, DETACH_HINT)


@check(points=2, examples=10, session=sessions(calls=(1, 2, 6), leftovers=True),
       explicit=[{"session": session_of(LINEAR_1_1, {"name": "sgd", "lr": 0.1},
                                        [(2, {"grads": True})])},
                 {"session": session_of(MLP, NESTEROV, [(3, {"grads": True}), 2,
                                                        (1, {"grads": True})], layout="strided")}],
       description=N_("Gradients the model arrives with, before the first call or a later one, do "
                      "not leak into the update."),
       hint=LEFTOVER_HINT)
def ignores_leftover_gradients(sub, session):
    follows_reference(sub, session, LEFTOVER_HINT)


@check(points=2, examples=8, session=sessions(calls=(2, 4, 30), new_optimizers=True),
       explicit=[{"session": session_of(MLP, {**ADAM_GROUPS, "amsgrad": False}, [4, 1, 2])},
                 {"session": session_of(LINEAR_1_1, {"name": "sgd", "lr": 0.1, "momentum": 0.9},
                                        [2, 2, (2, {"optimizer": ADAM}), 2])}],
       description=N_("Many calls with the same model and optimizer (or a new optimizer handed over "
                      "mid-way) follow the reference training after every call."),
       hint=STATE_HINT)
def trains_over_several_steps(sub, session):
    follows_reference(sub, session, STATE_HINT)
