"""Checks for stale-optimizer: ``train_from_checkpoint(make_model, state_dict, x, y, lr, steps)``.

The model is sent as plain data (layers plus the checkpoint's tensors); the driver hands the
student a ``make_model`` that builds it with fresh random weights. The reference starts from
the checkpoint and runs plain SGD here. Besides the values, the driver reports, for every
optimizer the student created or stepped during the call, how many of the tensors it holds
are not parameters of the returned model (the signature of an optimizer built on a model that
was replaced afterwards), and the checkpoint's values after the call.

Three contract properties are invariants, judged on every reply of every check: ``steps = 0``
returns exactly the checkpoint, every optimizer in use holds only the returned model's
parameters, and ``state_dict`` is left unchanged. ``resumes_again_from_the_same_checkpoint``
calls the function several times with the same factory and checkpoint, in one driver call.
"""

import torch
import torch.nn.functional as F
from hypothesis import strategies as st

from grader import specs
from grader.checks import CheckFailed, check, expect, invariant
from grader.i18n.text import N_, T, TN
from grader.strategies import architectures, learning_rates, random_tensors, sizes

STALE_HINT = N_("The optimizer keeps references to the parameter tensors it was given; after you "
                "replace the model, it updates the old tensors: create the optimizer from the model "
                "you train and return, after loading the weights.")
LOAD_HINT = N_("Load the checkpoint into the model you return: `make_model()` gives random weights, "
               "and `model.load_state_dict(state_dict)` copies the saved values into that same model.")
LOAD_RESULT_HINT = N_("load_state_dict loads the weights in place and returns a report of missing and "
                      "unexpected keys: call `model.load_state_dict(state_dict)` without assigning its result.")
TRAJECTORY_HINT = N_("Starting from the checkpoint, make exactly `steps` plain SGD steps (no momentum, "
                     "no weight decay, no schedule, no clipping) with learning rate `lr` on "
                     "`F.mse_loss(model(x), y)` over the whole batch, clearing the gradients at every step.")
MOMENTUM_HINT = N_("Your parameters match SGD with momentum: the contract asks for plain SGD, "
                   "`torch.optim.SGD(model.parameters(), lr=lr)` with the default momentum of 0.")
UNCHANGED_HINT = N_("No update reached the model you return: the optimizer, or your own update, must "
                    "work on the parameters of that very model, once per step.")
OFF_BY_ONE_HINT = N_("Your parameters match one step too few or too many: make exactly `steps` steps.")
LATE_HINT = N_("Your first 10 steps are right and the later ones are not: your parameters match a "
               "learning rate that decays every 10 steps. The learning rate must stay `lr` for every "
               "step: no scheduler.")
ALIASING_HINT = N_("The checkpoint's tensors changed: `load_state_dict(state_dict, assign=True)` (or "
                   "wrapping the checkpoint's tensors in nn.Parameter yourself) makes the model train "
                   "the caller's tensors in place. Plain `load_state_dict(state_dict)` copies the values.")
RESUME_HINT = N_("Every call starts again from the checkpoint: build a new model with make_model(), "
                 "load state_dict into it and create a new optimizer with this call's lr, every time. "
                 "Keep no model, optimizer or other state from one call to the next.")
ERRORS = {"_IncompatibleKeys": LOAD_RESULT_HINT}


# ----------------------------------------------------------------------------- problems
def mostly_small(low, high, small):
    """``low..high``, three times in four from ``low..small`` (cheap to run and to shrink)."""
    return st.one_of(st.integers(low, small), st.integers(low, small), sizes(low, high, small))


# Built once: hypothesis validates a strategy object the first time it is drawn from.
ARCHITECTURES, SEEDS = architectures(), st.integers(0, 2**16)
ROWS = sizes(1, 64)  # the batch size B
STEPS = mostly_small(1, 30, 8)  # long enough for anything that changes after 10 updates
LEARNING_RATES = learning_rates(1e-3, 0.5)
RUNS = st.integers(2, 4)  # calls from the same checkpoint
AGAIN = st.sampled_from(["same", "new lr", "new batch", "new"])  # how a later call differs
STEPS_OR_ZERO = st.one_of(st.just(0), STEPS)


def checkpoint(layers, seed):
    return random_tensors(seed, specs.parameter_shapes(layers), scale=0.5)


def batch(layers, seed, rows):
    x, y = random_tensors(seed, [(rows, layers[0][1]), (rows, layers[-1][2])])
    return {"x": x, "y": y}


def make_run(layers, seed, rows, lr, steps):
    """One call's problem as plain data (also used to write the explicit examples)."""
    return {"layers": layers, "params": checkpoint(layers, seed),
            **batch(layers, seed + 1, rows), "lr": lr, "steps": steps}


@st.composite
def runs(draw, steps=STEPS):
    """A model spec with the checkpoint's parameters, one full batch, a learning rate and steps."""
    layers = draw(ARCHITECTURES)
    seed = draw(SEEDS)
    return make_run(layers, seed, draw(ROWS), draw(LEARNING_RATES), draw(steps))


@st.composite
def resumes(draw):
    """2-4 calls from one checkpoint; each later call repeats the previous one, or changes its
    learning rate, its batch, or everything."""
    layers = draw(ARCHITECTURES)
    seed = draw(SEEDS)
    first = {**batch(layers, seed + 1, draw(ROWS)), "lr": draw(LEARNING_RATES), "steps": draw(STEPS)}
    calls = [first]
    for number in range(1, draw(RUNS)):
        change, previous = draw(AGAIN), calls[-1]
        call = dict(previous)
        if change in ("new lr", "new"):
            call["lr"] = draw(LEARNING_RATES)
        if change in ("new batch", "new"):
            call.update(batch(layers, seed + 1 + number, draw(ROWS)))
        if change == "new":
            call["steps"] = draw(STEPS_OR_ZERO)
        calls.append(call)
    return {"layers": layers, "params": checkpoint(layers, seed), "runs": calls}


# The boundaries the statement names: steps = 0, B = 1, one step, more than 10 steps.
TINY = [["linear", 2, 1]]
HIDDEN = [["linear", 2, 3], ["tanh"], ["linear", 3, 1]]
STEPS_ZERO = make_run(TINY, 3, 1, 0.1, 0)
ONE_STEP_ONE_ROW = make_run(TINY, 4, 1, 0.1, 1)
ELEVEN_STEPS = make_run(HIDDEN, 5, 2, 0.1, 11)
TWICE_THE_SAME = {"layers": TINY, "params": checkpoint(TINY, 6),
                  "runs": [{**batch(TINY, 7, 2), "lr": 0.1, "steps": 2}] * 2}
TWICE_NEW_LR = {"layers": TINY, "params": checkpoint(TINY, 8),
                "runs": [{**batch(TINY, 9, 2), "lr": 0.1, "steps": 2},
                         {**batch(TINY, 9, 2), "lr": 0.3, "steps": 11}]}  # > 10 steps too


# ----------------------------------------------------------------------------- references
forward = specs.functional_forward


def sgd_path(run, steps, *, start=None, lr=None, momentum=0.0):
    """The parameters after 0, 1, ..., ``steps`` SGD steps on the run's batch, from ``start``
    (the checkpoint by default) with ``lr`` (the run's by default)."""
    params = [p.detach().clone().requires_grad_() for p in (start or run["params"])]
    lr = run["lr"] if lr is None else lr
    if momentum:
        return _optimizer_path(run, params, steps, torch.optim.SGD(params, lr=lr, momentum=momentum))
    path = [[p.detach().clone() for p in params]]
    for _ in range(steps):
        loss = F.mse_loss(forward(run["layers"], params, run["x"]), run["y"])
        grads = torch.autograd.grad(loss, params)
        with torch.no_grad():
            for p, g in zip(params, grads):
                p.add_(g, alpha=-lr)  # what torch.optim.SGD does, bit for bit, without its overhead
        path.append([p.detach().clone() for p in params])
    return path


def _optimizer_path(run, params, steps, optimizer):
    path = [[p.detach().clone() for p in params]]
    for _ in range(steps):
        optimizer.zero_grad()
        F.mse_loss(forward(run["layers"], params, run["x"]), run["y"]).backward()
        optimizer.step()
        path.append([p.detach().clone() for p in params])
    return path


def reference_path(run):
    """Plain SGD from the checkpoint: ``path[-1]`` is the expected result; the earlier states
    let :func:`diagnose` name the usual mistakes without training again."""
    return sgd_path(run, run["steps"])


def references(calls):
    """``reference_path(run)`` for each call; a call that repeats the previous one reuses it."""
    results = []
    for number, run in enumerate(calls):
        previous = calls[number - 1] if number else None
        repeated = previous is not None and all(run[k] is previous[k] for k in ("x", "y")) and \
            (run["lr"], run["steps"]) == (previous["lr"], previous["steps"])
        results.append(results[-1] if repeated else reference_path(run))
    return results


def _values(report):
    return [p.value for p in report["params"]]


def _all_close(got, expected):
    return len(got) == len(expected) and all(
        g.shape == e.shape and bool(torch.allclose(g, e, rtol=1e-4, atol=1e-5, equal_nan=True))
        for g, e in zip(got, expected))


def _all_equal(got, expected):
    return len(got) == len(expected) and all(
        g.shape == e.shape and torch.equal(g, e) for g, e in zip(got, expected))


def _finite(tensors):
    return all(bool(torch.isfinite(t).all()) for t in tensors)


def _expect_parameter_count(got, run):
    expected = len(run["params"])
    expect(len(got) == expected, TN("The returned model has {n} parameter, but the model that make_model() "
                                    "builds has {expected}.",
                                    "The returned model has {n} parameters, but the model that make_model() "
                                    "builds has {expected}.", len(got), expected=expected),
           expected=expected, got=len(got))


def mistakes(run, path):
    """``(hint, parameters)`` of the usual mistakes, computed lazily from the reference path."""
    steps = run["steps"]
    yield MOMENTUM_HINT, lambda: sgd_path(run, steps, momentum=0.9)[-1]
    if steps >= 1:
        yield OFF_BY_ONE_HINT, lambda: path[-2]
    yield OFF_BY_ONE_HINT, lambda: sgd_path(run, 1, start=path[-1])[-1]
    if steps > 10:  # a scheduler left in the loop: the learning rate decays every 10 steps
        for factor in (0.5, 0.1):
            yield LATE_HINT, lambda f=factor: decayed(run, path[10], 10, f)


def decayed(run, start, done, factor):
    """The parameters after ``run["steps"]`` steps when the learning rate is multiplied by
    ``factor`` every 10 steps (``torch.optim.lr_scheduler.StepLR``), from ``start`` after
    ``done`` steps."""
    params = start
    while done < run["steps"]:
        chunk = min(10, run["steps"] - done)
        params = sgd_path(run, chunk, start=params, lr=run["lr"] * factor ** (done // 10))[-1]
        done += chunk
    return params


def diagnose(run, got, path):
    """Name the misconception whose parameters the answer holds, if any."""
    for hint, parameters in mistakes(run, path):
        if _all_close(got, parameters()):
            return hint
    return None


def expect_trajectory(run, report, path, which=None, fallback=None):
    """The returned model's parameters are where plain SGD from the checkpoint leads
    (``path[-1]``, see :func:`reference_path`); the hint names the usual mistake the answer
    matches, else ``fallback`` (else the check's own hint). ``which``: see :func:`_which`."""
    expected = path[-1]
    got = _values(report)
    _expect_parameter_count(got, run)
    steps = run["steps"]
    if _all_equal(got, run["params"]) and not _all_equal(expected, run["params"]):
        stale = any(optimizer["foreign"] for optimizer in report["optimizers"])
        message = (TN("After {n} step, the returned model still holds exactly the checkpoint's values: "
                      "training changed nothing in the model you return.",
                      "After {n} steps, the returned model still holds exactly the checkpoint's values: "
                      "training changed nothing in the model you return.", steps) if which is None else
                   TN("In call {call} of {calls} from the same checkpoint: After {n} step, the returned model "
                      "still holds exactly the checkpoint's values: training changed nothing in the model "
                      "you return.",
                      "In call {call} of {calls} from the same checkpoint: After {n} steps, the returned model "
                      "still holds exactly the checkpoint's values: training changed nothing in the model "
                      "you return.", steps, **which))
        raise CheckFailed(message, expected=expected, got=got,
                          hint=STALE_HINT if stale else diagnose(run, got, path) or fallback or UNCHANGED_HINT)
    for number, (g, e) in enumerate(zip(got, expected)):
        if g.shape != e.shape or not torch.allclose(g, e, rtol=1e-4, atol=1e-5, equal_nan=True):
            message = (TN("After {n} step, parameter {index} of the returned model is not where plain SGD "
                          "from the checkpoint leads.",
                          "After {n} steps, parameter {index} of the returned model is not where plain SGD "
                          "from the checkpoint leads.", steps, index=number) if which is None else
                       TN("In call {call} of {calls} from the same checkpoint: After {n} step, parameter "
                          "{index} of the returned model is not where plain SGD from the checkpoint leads.",
                          "In call {call} of {calls} from the same checkpoint: After {n} steps, parameter "
                          "{index} of the returned model is not where plain SGD from the checkpoint leads.",
                          steps, index=number, **which))
            raise CheckFailed(message, expected=e, got=g, hint=diagnose(run, got, path) or fallback)


def runs_of(resume):
    """Every call of a ``run_resumes`` problem as a ``run_train`` problem."""
    return [{"layers": resume["layers"], "params": resume["params"], **run} for run in resume["runs"]]


def call_runs(args, reply):
    """``(run, report)`` for every call a reply reports."""
    if "runs" not in args:
        return [(args, reply)]
    return list(zip(runs_of(args), reply["calls"]))


def _which(args, number):
    """``{"call", "calls"}`` for the sentences about call ``number`` of a reply that start "In
    call 2 of 3 from the same checkpoint:", or None for a single call."""
    return {"call": number + 1, "calls": len(args["runs"])} if "runs" in args else None


# ----------------------------------------------------------------------------- invariants
WATCHED = ("run_train", "run_resumes")


@invariant(points=2, calls=WATCHED, probe=runs(steps=st.just(0)), examples=4,
           explicit=[STEPS_ZERO],
           description=N_("With steps = 0, the returned model holds exactly the checkpoint's values "
                          "(checked on every call with steps = 0)."),
           hint=LOAD_HINT, error_hints=ERRORS)
def returns_the_loaded_model_when_steps_is_zero(args, reply):
    for number, (run, report) in enumerate(call_runs(args, reply)):
        if run["steps"] != 0:
            continue
        got = _values(report)
        _expect_parameter_count(got, run)
        which = _which(args, number)
        for index, (g, expected) in enumerate(zip(got, run["params"])):
            expect(g.shape == expected.shape and torch.equal(g, expected),
                   T("With steps = 0, parameter {index} of the returned model is not the checkpoint's value.",
                     index=index) if which is None else
                   T("In call {call} of {calls} from the same checkpoint: With steps = 0, parameter {index} of "
                     "the returned model is not the checkpoint's value.", index=index, **which),
                   expected=expected, got=g)


@invariant(points=2, calls=WATCHED, probe=runs(steps=st.integers(1, 3)), examples=3,
           explicit=[ONE_STEP_ONE_ROW], graph=True,
           description=N_("Every optimizer you create or use holds only parameters of the model you "
                          "return (checked on every call)."),
           hint=STALE_HINT, error_hints=ERRORS)
def optimizer_holds_the_models_parameters(args, reply):
    for number, (_, report) in enumerate(call_runs(args, reply)):
        which = _which(args, number)
        for index, optimizer in enumerate(report["optimizers"], start=1):
            if optimizer["foreign"] == 0:
                continue
            details = {"index": index, "type": optimizer["type"],
                       "tensors": TN("{n} tensor", "{n} tensors", optimizer["held"])}
            raise CheckFailed(
                TN("Optimizer {index} that you created or stepped ({type}) holds {tensors}, and {n} of "
                   "them is not a parameter of the model you return.",
                   "Optimizer {index} that you created or stepped ({type}) holds {tensors}, and {n} of "
                   "them are not parameters of the model you return.", optimizer["foreign"], **details)
                if which is None else
                TN("In call {call} of {calls} from the same checkpoint: Optimizer {index} that you created "
                   "or stepped ({type}) holds {tensors}, and {n} of them is not a parameter of the model "
                   "you return.",
                   "In call {call} of {calls} from the same checkpoint: Optimizer {index} that you created "
                   "or stepped ({type}) holds {tensors}, and {n} of them are not parameters of the model "
                   "you return.", optimizer["foreign"], **details, **which),
                expected=0, got=optimizer["foreign"])


@invariant(points=2, calls=WATCHED, probe=runs(steps=st.integers(1, 3)), examples=3,
           description=N_("The tensors of state_dict hold the same values after the call (checked "
                          "on every call)."),
           hint=ALIASING_HINT, error_hints=ERRORS)
def leaves_state_dict_unchanged(args, reply):
    for number, (run, report) in enumerate(call_runs(args, reply)):
        which = _which(args, number)
        for index, (before, after) in enumerate(zip(run["params"], report["state_dict_after"])):
            expect(torch.equal(before, after.value),
                   T("train_from_checkpoint changed the values of tensor {index} of state_dict.", index=index)
                   if which is None else
                   T("In call {call} of {calls} from the same checkpoint: train_from_checkpoint changed the "
                     "values of tensor {index} of state_dict.", index=index, **which),
                   expected=before, got=after)


# ----------------------------------------------------------------------------- checks
RESUME_SHRINK_CALLS = 4  # sandbox calls after the first failure: one call trains several runs


@check(points=3, examples=14, run=runs(), graph=True,
       explicit=[{"run": ONE_STEP_ONE_ROW}, {"run": ELEVEN_STEPS}],
       description=N_("After `steps` plain SGD steps, the returned model's parameters equal the reference."),
       hint=TRAJECTORY_HINT, error_hints=ERRORS)
def parameters_follow_reference_trajectory(sub, run):
    pending = sub.start("run_train", **run)
    path = reference_path(run)  # computed while the submission runs
    report = pending.result()
    if _finite(path[-1]):  # a diverging run (large lr, one row) judges nothing
        expect_trajectory(run, report, path)


@check(points=1, examples=4, resume=resumes(), shrink_calls=RESUME_SHRINK_CALLS,
       explicit=[{"resume": TWICE_THE_SAME}, {"resume": TWICE_NEW_LR}],
       description=N_("Called again with the same make_model and state_dict, every call trains its "
                      "own model from the checkpoint, and a later call leaves earlier results alone."),
       hint=RESUME_HINT, error_hints=ERRORS)
def resumes_again_from_the_same_checkpoint(sub, resume):
    pending = sub.start("run_resumes", **resume)
    calls = runs_of(resume)
    paths = references(calls)  # computed while the submission runs
    reply = pending.result()
    total = len(calls)
    for number, (run, report, path) in enumerate(zip(calls, reply["calls"], paths)):
        if _finite(path[-1]):
            expect_trajectory(run, report, path, _which(resume, number),
                              fallback=TRAJECTORY_HINT if number == 0 else RESUME_HINT)
    for number, (final, path) in enumerate(zip(reply["final"], paths)):
        reference_values, got = path[-1], [p.value for p in final]
        if _finite(reference_values) and not _all_close(got, reference_values):
            later = next((i for i, r in enumerate(reply["calls"]) if r["same_model_as"] == number), None)
            raise CheckFailed(T("The model returned by call {call} of {calls} changed during a later call. "
                                "Every call must build and return a model of its own.",
                                call=number + 1, calls=total) if later is None else
                              T("The model returned by call {call} of {calls} changed during a later call: call "
                                "{later} returned that same model object. Every call must build and return a "
                                "model of its own.", call=number + 1, calls=total, later=later + 1),
                              expected=reference_values, got=got, hint=RESUME_HINT)
