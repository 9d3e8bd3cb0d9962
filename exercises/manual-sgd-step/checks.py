"""Checks for manual-sgd-step: ``sgd_step(params, lr) -> None``.

Each parameter is drawn as plain data (its values, its gradient or None, its memory layout)
and the driver builds leaf tensors with ``requires_grad=True`` from them: contiguous,
transposed, or a strided view of a larger buffer. A drawn problem is a first step plus, in
``then``, later steps on the same list of parameters, with the gradients changed between
steps as ``zero_grad()`` and ``backward()`` change them (see the driver). The reference
update is computed here, in float32, the canonical way: ``p - lr * g``.

What must hold after every call (skipped parameters untouched, memory kept, leaves kept,
autograd left on, None returned, gradients unchanged) is an invariant: it is checked on
every step of every call of every check.
"""

import random
from dataclasses import dataclass

import torch
from hypothesis import strategies as st

from grader.checks import CheckFailed, check, expect, expect_close, expect_tensor, invariant
from grader.i18n.text import N_, T
from grader.strategies import learning_rates, sizes, tiny_gradients

REBINDING_HINT = N_("`p = p - lr * p.grad` creates a new tensor and rebinds the name p to it, so "
                    "the tensor in the list never changes. Update the tensor itself in place, "
                    "without recording the update in the graph: "
                    "`with torch.no_grad(): p -= lr * p.grad`.")
NO_GRAD_HINT = N_("PyTorch refuses an in-place change of a leaf that requires grad while autograd is "
                  "recording. Do the update inside `with torch.no_grad():` (or through `p.data`).")
NONE_GRAD_HINT = N_("A parameter whose .grad is None took no part in the backward pass: skip it "
                    "with `if p.grad is None: continue` and leave it untouched.")
STORAGE_HINT = N_("`p.data = p.data - lr * p.grad` gives p a new block of memory instead of updating "
                  "the old one, so anything that shares p's memory (a view, or `p.detach()`) keeps "
                  "the old values. Write into the existing memory: `p.data -= lr * p.grad` or "
                  "`with torch.no_grad(): p -= lr * p.grad`.")
LEAF_HINT = N_("After the update, every parameter must still be a leaf with requires_grad=True: do "
               "not detach it and do not switch requires_grad off, and update it under "
               "torch.no_grad() so that no grad_fn is recorded.")
GRAD_MODE_HINT = N_("`torch.set_grad_enabled(False)` (or `torch.autograd.set_grad_enabled(False)`) "
                    "switches autograd off for the rest of the program, so the caller's next "
                    "forward pass records nothing. Use `with torch.no_grad():`, which switches it "
                    "back on when the block ends.")
GRADS_HINT = N_("The update reads the gradients but must not change them: do not zero them, set "
                "them to None or scale them in place. Clearing the gradients is the caller's job, "
                "as with optimizer.step() and optimizer.zero_grad().")
LOOP_HINT = N_("Every parameter that has a gradient must be updated: check that the loop reaches "
               "all of them (a `return` or `break` inside the loop stops it early).")
LAYOUT_HINT = N_("Update each parameter in its own memory, whatever its layout: `p.reshape(-1)` and "
                 "`p.flatten()` return a copy when p is not contiguous (a transposed tensor, or a "
                 "view with strides), so an update of that copy is lost.")
LATER_STEP_HINT = N_("Use the gradients each call finds in `p.grad` at that call: between two steps "
                     "zero_grad() and backward() change them, and a gradient may be a new tensor.")
RETURN_HINT = N_("sgd_step works in place, like optimizer.step(): it must return None.")

ERROR_HINTS = {"a leaf Variable that requires grad": NO_GRAD_HINT, "NoneType": NONE_GRAD_HINT}

MAX_PARAMS = 12
MAX_LATER_STEPS = 3
LR_RANGE = (1e-3, 1.0)
TINY = 1e-6  # the scale of "tiny" values and gradients
# The properties' own problems are small from the start; a short shrink keeps a failing
# submission as cheap as a passing one.
SHRINK_CALLS = 4


# ----------------------------------------------------------------------------- problems
def _uniform(generator, shape, low, high):
    """Uniform float32 values in [low, high], rounded to 3 decimals so that feedback reads well."""
    values = torch.rand(shape, generator=generator) * (high - low) + low
    return torch.round(values, decimals=3)


def _gradient(generator, shape, tiny):
    """A gradient whose every element is between 0.25 and 3 in absolute value, or a tiny one
    (normally distributed around 0, standard deviation 1e-6)."""
    if tiny:
        return tiny_gradients(shape, generator, scale_exponent=-6)
    sign = torch.where(torch.rand(shape, generator=generator) < 0.5, -1.0, 1.0)
    return _uniform(generator, shape, 0.25, 3.0) * sign


def _shape(rng):
    """0, 1 or 2 dimensions, each of size 1 to 3 (mostly) or 1 to 5."""
    largest = rng.choice((3, 3, 5))
    return tuple(rng.randint(1, largest) for _ in range(rng.choice((0, 1, 2))))


LAYOUTS = ("contiguous", "contiguous", "transposed", "strided")  # as grader.strategies.layouts()
RARELY = (False, False, False, True)


# Built once: hypothesis pays for every strategy object it meets for the first time.
PARAMETER_COUNTS = sizes(1, MAX_PARAMS, small=4)
PARAMETER_COUNTS_MISSING = sizes(2, MAX_PARAMS, small=4)
SEEDS = st.integers(0, 2**16)
RATES = learning_rates(*LR_RANGE)
LATER_STEPS = st.lists(st.tuples(SEEDS, RATES, st.booleans()), max_size=MAX_LATER_STEPS)


def later_step(seed, lr, refill, shapes, tiny_grads, missing):
    """A later step: each parameter gets a new gradient (mostly) or, if ``missing``, maybe
    none; a new lr; and the gradients change in place (``refill``) or as new tensors."""
    rng, generator = random.Random(seed), torch.Generator().manual_seed(seed)
    grads = [None if missing and rng.choice(RARELY) else _gradient(generator, shape, tiny)
             for shape, tiny in zip(shapes, tiny_grads)]
    return {"grads": grads, "lr": lr, "refill": refill}


@st.composite
def problems(draw, missing=False, later_missing=True):
    """``values``, ``grads`` (one tensor or None per parameter), ``lr``, ``layouts``, ``then``.

    ``missing=False``: at the first step every parameter has a gradient. ``missing=True``: at
    least one parameter has a gradient and at least one has none. ``later_missing``: at a
    later step a parameter may get no gradient. 1 to 12 parameters (mostly few) of 0 to 2
    dimensions of size 1 to 5; values in [-3, 3], gradients between 0.25 and 3 in absolute
    value; one parameter in four has tiny values (around 1e-6), one in four a tiny gradient.
    Hypothesis draws the number of parameters, the learning rates and seeds; the rest comes
    from the seeds (``random`` for the structure, torch for the numbers), as each hypothesis
    draw costs far more.
    """
    count = draw(PARAMETER_COUNTS_MISSING if missing else PARAMETER_COUNTS)
    seed = draw(SEEDS)
    rng, generator = random.Random(seed), torch.Generator().manual_seed(seed)
    shapes = [_shape(rng) for _ in range(count)]
    memory = [rng.choice(LAYOUTS) for _ in range(count)]
    tiny_values = [rng.choice(RARELY) for _ in range(count)]
    tiny_grads = [rng.choice(RARELY) for _ in range(count)]
    has_grad = [True] * count
    if missing:
        has_grad = [rng.choice((False, True)) for _ in range(count)]
        if all(has_grad):
            has_grad[-1] = False  # at least one parameter without a gradient
        if not any(has_grad):
            has_grad[-1] = True  # at least one parameter with a gradient
    values = [_uniform(generator, shape, -3.0, 3.0) * (TINY if tiny else 1.0)
              for shape, tiny in zip(shapes, tiny_values)]
    grads = [_gradient(generator, shape, tiny) if flag else None
             for shape, tiny, flag in zip(shapes, tiny_grads, has_grad)]
    return {"values": values, "grads": grads, "lr": draw(RATES), "layouts": memory,
            "then": [later_step(*step, shapes, tiny_grads, later_missing)
                     for step in draw(LATER_STEPS)]}


@dataclass(frozen=True)
class Step:
    """One step of a problem: its lr, the gradients the parameters hold when sgd_step is
    called, the reference values before and after, and per parameter the absolute tolerance
    and whether the update visibly moves it."""

    lr: float
    grads: list
    before: list
    after: list
    atol: list
    moving: list

    def with_grad(self):
        return [i for i, grad in enumerate(self.grads) if grad is not None]


# The last (problem, plan) pair, replaced as a whole: the invariants watching one call share
# it, and a thread reading it always sees a matching pair.
_LAST_PLAN = [(None, None)]


def plan(problem):
    """The steps of ``problem`` (computed once for the invariants watching the same call)."""
    seen, steps = _LAST_PLAN[0]
    if seen is not problem:
        steps = _compute_plan(problem)
        _LAST_PLAN[0] = (problem, steps)
    return steps


def _compute_plan(problem):
    values, grads, steps = list(problem["values"]), list(problem["grads"]), []
    for index, lr in enumerate(_learning_rates(problem)):
        if index:  # what zero_grad() and backward() did between the two calls
            later = problem["then"][index - 1]
            grads = [_next_gradient(before, new, later["refill"])
                     for before, new in zip(grads, later["grads"])]
        after = [v if g is None else v - lr * g for v, g in zip(values, grads)]
        atol, moving = zip(*(_judge(b, a) for b, a in zip(values, after)))
        steps.append(Step(lr=lr, grads=grads, before=values, after=after,
                          atol=list(atol), moving=list(moving)))
        values = after
    return steps


def _learning_rates(problem):
    return [problem["lr"]] + [later["lr"] for later in problem.get("then") or ()]


def _next_gradient(before, new, refill):
    if new is not None:
        return new
    if refill and before is not None:
        return torch.zeros_like(before)  # zero_grad(set_to_none=False), then no gradient came
    return None


def _judge(before, after):
    """(absolute tolerance, moves): 1e-6, scaled down for tiny parameters; and whether the
    update changes the parameter by more than the comparison tolerance (as torch.allclose
    with rtol=1e-5 would say). In plain Python: parameters are small, torch calls are not free."""
    b, a = before.reshape(-1).tolist(), after.reshape(-1).tolist()
    atol = 1e-6 * min(1.0, max(max(map(abs, b)), max(map(abs, a))))
    return atol, any(abs(x - y) > atol + 1e-5 * abs(y) for x, y in zip(a, b))


def steps_of(reply):
    """What the driver reported after each step, first step first."""
    return [reply] + list(reply.get("later", ()))


def _at(index, problem):
    """How feedback names step ``index``: ``{"step", "steps"}`` for the sentences that say
    "(at step 2 of 3 on the same parameters)", or None when there is only one step."""
    later = problem.get("then") or ()
    return {"step": index + 1, "steps": len(later) + 1} if later else None


def _param_name(i, at):
    """How feedback names parameter ``i`` at a step (see :func:`_at`)."""
    return f"params[{i}]" if at is None else T("params[{i}] (at step {step} of {steps} on the same parameters)",
                                               i=i, **at)


def _param(values, grad, layout="contiguous"):
    return {"value": torch.tensor(values), "grad": None if grad is None else torch.tensor(grad),
            "layout": layout}


def _fixed(params, lr, then=()):
    """An explicit problem from plain numbers: ``params`` from :func:`_param`."""
    return {"values": [p["value"] for p in params], "grads": [p["grad"] for p in params], "lr": lr,
            "layouts": [p["layout"] for p in params],
            "then": [{"grads": [None if g is None else torch.tensor(g) for g in grads],
                      "lr": step_lr, "refill": refill} for grads, step_lr, refill in then]}


def _many_parameters():
    generator = torch.Generator().manual_seed(12)
    shapes = [(), (1,), (3,), (2, 2), (3, 1), (1, 4), (5,), (2, 3), (4, 4), (), (2,), (3, 5)]
    kinds = ["contiguous", "strided", "transposed"]
    return {"values": [_uniform(generator, s, -3, 3) for s in shapes],
            "grads": [_gradient(generator, s, False) for s in shapes], "lr": 0.05,
            "layouts": [kinds[i % 3] for i in range(len(shapes))], "then": []}


# The boundaries the statement names, tried first: one scalar parameter at the largest lr;
# transposed and strided parameters; tiny values with tiny gradients next to ordinary ones;
# twelve parameters; a training loop whose gradients are refilled in place, then set to None.
BOUNDARIES = [
    _fixed([_param(1.0, 0.5)], 1.0),
    _fixed([_param([[1.0, -2.0, 0.5], [0.25, 3.0, -1.5]], [[0.5, 1.0, -2.0], [1.5, -0.5, 0.25]],
                   "transposed"),
            _param([2.0, -1.0, 0.5, 1.5], [1.0, -2.0, 0.5, 0.75], "strided"),
            _param(0.5, -1.0)], 0.1),
    _fixed([_param([1.5e-6, -2e-6, 3e-7], [1e-6, 2e-6, -5e-7]), _param([1.0, 2.0], [0.5, -0.5])], 0.5),
    _many_parameters(),
    _fixed([_param([[1.0, 2.0], [3.0, 4.0]], [[0.5, -0.5], [1.0, 2.0]], "transposed"),
            _param([0.5, -0.5, 1.0], [1.0, 1.0, -1.0], "strided")], 0.1,
           then=[([[[1.0, 0.5], [-0.5, 1.5]], None], 0.05, True),
                 ([None, [0.5, 0.5, 2.0]], 0.2, False),
                 ([[[0.25, 0.25], [0.5, 0.5]], [1.0, -1.0, 0.5]], 0.01, False)]),
]
# Tried first by the properties, so that a submission failing everywhere is shown a plain input.
PLAIN = _fixed([_param([1.0, -2.0], [0.5, 1.0]), _param(3.0, -1.5)], 0.1)
MISSING_BOUNDARY = _fixed([_param(0.5, None), _param([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]],
                                                     [[1.0, -1.0, 0.5], [0.5, 2.0, -2.0]], "transposed"),
                           _param([1.0, -1.0], None, "strided")], 0.1,
                          then=[([1.5, None, [0.5, 0.5]], 0.2, False)])


# ----------------------------------------------------------------------------- checks
@check(points=3, examples=12, problem=problems(), explicit=[{"problem": p} for p in BOUNDARIES],
       description=N_("Every parameter with a gradient becomes p - lr * p.grad, at every step of a "
                      "training loop on the same parameters."),
       hint=REBINDING_HINT, error_hints=ERROR_HINTS, graph=True)
def updates_every_parameter(sub, problem):
    pending = sub.start("run_sgd_step", **problem)
    steps = plan(problem)  # computed while the submission runs
    got = pending.result()
    student_before = problem["values"]
    for index, (step, report) in enumerate(zip(steps, steps_of(got))):
        expect_step_update(index, problem, step, student_before, report["params"])
        student_before = [param.value for param in report["params"]]


def expect_step_update(index, problem, step, student_before, params):
    """Step ``index`` took every parameter where the reference ``step`` takes it."""
    at = _at(index, problem)
    for i, (param, ref) in enumerate(zip(params, step.after)):
        expect_tensor(_param_name(i, at), param, shape=tuple(ref.shape),
                      hint=N_("The update must keep the shape and the dtype (float32) of every parameter."))
    moving = [i for i, flag in enumerate(step.moving) if flag]
    if moving and all(torch.equal(p.value, b) for p, b in zip(params, student_before)):
        raise CheckFailed(T("After sgd_step, the tensors in params still hold their old values.") if at is None
                          else T("After sgd_step (at step {step} of {steps} on the same parameters), the "
                                 "tensors in params still hold their old values.", **at),
                          expected=step.after, got=[p.value for p in params],
                          hint=REBINDING_HINT if index == 0 else LATER_STEP_HINT)
    memory = problem.get("layouts") or ["contiguous"] * len(params)
    for i in moving:
        expect(not torch.equal(params[i].value, student_before[i]),
               T("params[{i}] still holds its old values, although other parameters changed.", i=i)
               if at is None else
               T("params[{i}] still holds its old values (at step {step} of {steps} on the same parameters), "
                 "although other parameters changed.", i=i, **at),
               expected=step.after[i], got=params[i].value,
               hint=LATER_STEP_HINT if index else
               LAYOUT_HINT if memory[i] != "contiguous" else LOOP_HINT)
    for i, (param, ref, atol) in enumerate(zip(params, step.after, step.atol)):
        expect_close(T("params[{i}] after the step", i=i) if at is None else
                     T("params[{i}] after the step (at step {step} of {steps} on the same parameters)", i=i, **at),
                     param, ref, rtol=1e-5, atol=atol,
                     hint=N_("Each parameter must move against its gradient by lr times the gradient: "
                             "p - lr * p.grad.") if index == 0 else LATER_STEP_HINT)


@invariant(points=2, calls=("run_sgd_step",), examples=8, probe=problems(missing=True),
           shrink_calls=SHRINK_CALLS,
           explicit=[MISSING_BOUNDARY],
           description=N_("Parameters whose .grad is None are left untouched (values, memory and .grad "
                          "None), and the call does not fail, at every step."),
           hint=NONE_GRAD_HINT, error_hints=ERROR_HINTS)
def skips_parameters_without_grad(args, reply):
    values_before, storage_before = list(args["values"]), reply["storage_before"]
    for index, (step, report) in enumerate(zip(plan(args), steps_of(reply))):
        at = _at(index, args)
        for i, (grad, param) in enumerate(zip(step.grads, report["params"])):
            if grad is not None:
                continue
            expect(torch.equal(param.value, values_before[i]),
                   T("params[{i}] has no gradient, but sgd_step changed its values.", i=i) if at is None else
                   T("params[{i}] has no gradient (at step {step} of {steps} on the same parameters), but "
                     "sgd_step changed its values.", i=i, **at),
                   expected=values_before[i], got=param.value)
            expect(param.storage == storage_before[i],
                   T("params[{i}] has no gradient, but sgd_step gave it new memory.", i=i) if at is None else
                   T("params[{i}] has no gradient (at step {step} of {steps} on the same parameters), but "
                     "sgd_step gave it new memory.", i=i, **at))
            expect(param.grad is None,
                   T("params[{i}] had .grad None, but after sgd_step its .grad is a tensor.", i=i)
                   if at is None else
                   T("params[{i}] had .grad None (at step {step} of {steps} on the same parameters), but "
                     "after sgd_step its .grad is a tensor.", i=i, **at),
                   got=param.grad)
        values_before = [param.value for param in report["params"]]
        storage_before = [param.storage for param in report["params"]]


@invariant(points=2, calls=("run_sgd_step",), examples=5, probe=problems(later_missing=False),
           shrink_calls=SHRINK_CALLS, explicit=[PLAIN],
           description=N_("Updates the tensors themselves in their own memory, keeps them leaves with "
                          "requires_grad=True, leaves autograd switched on, and returns None, at every step."),
           hint=LEAF_HINT, error_hints=ERROR_HINTS, graph=True)
def updates_in_place_and_keeps_leaves(args, reply):
    expect_some_tensor_changed(args, reply)
    for index, report in enumerate(steps_of(reply)):
        at = _at(index, args)
        params = report["params"]
        for i, (param, storage) in enumerate(zip(params, reply["storage_before"])):
            expect(param.storage == storage,
                   T("params[{i}] was given new memory instead of being updated in place.", i=i) if at is None else
                   T("params[{i}] was given new memory (at step {step} of {steps} on the same parameters) "
                     "instead of being updated in place.", i=i, **at), hint=STORAGE_HINT)
            expect(param.grad_fn is None,
                   T("params[{i}] has grad_fn={grad_fn}: the update was recorded by autograd.", i=i,
                     grad_fn=param.grad_fn) if at is None else
                   T("params[{i}] has grad_fn={grad_fn} (at step {step} of {steps} on the same parameters): "
                     "the update was recorded by autograd.", i=i, grad_fn=param.grad_fn, **at), got=param)
            expect(param.is_leaf,
                   T("params[{i}] is no longer a leaf tensor.", i=i) if at is None else
                   T("params[{i}] is no longer a leaf tensor (at step {step} of {steps} on the same "
                     "parameters).", i=i, **at), got=param)
            expect(param.requires_grad,
                   T("params[{i}] has requires_grad=False after sgd_step, but it must stay True.", i=i)
                   if at is None else
                   T("params[{i}] has requires_grad=False after sgd_step (at step {step} of {steps} on the "
                     "same parameters), but it must stay True.", i=i, **at))
        expect(report["returned"] == "NoneType",
               T("sgd_step returned a {type} instead of None.", type=report["returned"]) if at is None else
               T("sgd_step returned a {type} instead of None (at step {step} of {steps} on the same "
                 "parameters).", type=report["returned"], **at), hint=RETURN_HINT)
        expect(report["grad_enabled"] is True,
               T("After sgd_step returned, autograd was switched off (torch.is_grad_enabled() is "
                 "False): the caller's next forward pass would record nothing.") if at is None else
               T("After sgd_step returned (at step {step} of {steps} on the same parameters), autograd was "
                 "switched off (torch.is_grad_enabled() is False): the caller's next forward pass would "
                 "record nothing.", **at), hint=GRAD_MODE_HINT)


def expect_some_tensor_changed(args, reply):
    """The signature of an update that never reaches the tensors (e.g. a rebound loop
    variable): at a step where every parameter with a gradient should visibly move, none of
    the tensors changed. Steps with tiny or zero gradients prove nothing and are not judged."""
    student_before = list(args["values"])
    for index, (step, report) in enumerate(zip(plan(args), steps_of(reply))):
        now = [param.value for param in report["params"]]
        with_grad = step.with_grad()
        at = _at(index, args)
        expect(not (with_grad and all(step.moving[i] for i in with_grad)
                    and all(torch.equal(n, b) for n, b in zip(now, student_before))),
               T("No tensor in params changed: the update never reached the tensors that sgd_step "
                 "received.") if at is None else
               T("No tensor in params changed (at step {step} of {steps} on the same parameters): the "
                 "update never reached the tensors that sgd_step received.", **at), hint=REBINDING_HINT)
        student_before = now


@invariant(points=1, calls=("run_sgd_step",), examples=4, probe=problems(later_missing=False),
           shrink_calls=SHRINK_CALLS, explicit=[PLAIN],
           description=N_("Leaves every .grad unchanged, at every step."), hint=GRADS_HINT,
           error_hints=ERROR_HINTS)
def leaves_gradients_unchanged(args, reply):
    for index, (step, report) in enumerate(zip(plan(args), steps_of(reply))):
        at = _at(index, args)
        for i, (grad, param) in enumerate(zip(step.grads, report["params"])):
            if grad is None:
                continue  # skips_parameters_without_grad watches those
            expect(param.grad is not None,
                   T("params[{i}].grad is None after sgd_step.", i=i) if at is None else
                   T("params[{i}].grad is None after sgd_step (at step {step} of {steps} on the same "
                     "parameters).", i=i, **at),
                   expected=grad)
            expect(torch.equal(param.grad.value, grad),
                   T("sgd_step changed params[{i}].grad.", i=i) if at is None else
                   T("sgd_step changed params[{i}].grad (at step {step} of {steps} on the same parameters).",
                     i=i, **at),
                   expected=grad, got=param.grad)


WORKED_EXAMPLE = {"values": [torch.tensor(1.0), torch.tensor(2.0)],
                  "grads": [torch.tensor(6.0), torch.tensor(12.0)], "lr": 0.1}


def _unchanged(got, problem):
    return all(torch.equal(p.value, v) for p, v in zip(got["params"], problem["values"]))


@check(points=1, description=N_("Reproduces the worked example: x = 1, y = 2 become x = 0.4, y = 0.8."),
       hint=REBINDING_HINT, error_hints=ERROR_HINTS)
def reproduces_worked_example(sub):
    got = sub.call("run_sgd_step", **WORKED_EXAMPLE)
    expected = [torch.tensor(0.4), torch.tensor(0.8)]
    values = [p.value for p in got["params"]]
    if not all(v.shape == e.shape and torch.allclose(v.double(), e.double(), rtol=0, atol=1e-6)
               for v, e in zip(values, expected)):
        raise CheckFailed(N_("With z = 3x² + y³ at x = 1, y = 2 (so x.grad = 6, y.grad = 12) and lr = 0.1, "
                             "sgd_step([x, y], 0.1) should give x = 0.4 and y = 0.8."),
                          expected=expected, got=values,
                          hint=REBINDING_HINT if _unchanged(got, WORKED_EXAMPLE)
                          else N_("Compute p - lr * p.grad by hand for x and y and compare."))
