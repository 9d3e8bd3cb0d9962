"""Checks for none-grad-after-rebinding: ``fit(x, y, w0, b0, lr, steps) -> (w, b)``.

References are computed here, in the trusted process. Besides the correct trajectory the
checks compute the trajectories of the usual mistakes, so that feedback can name the
misconception instead of only saying "wrong".

A drawn problem is one call of ``fit`` plus, in ``then``, later calls on the same tensors
(a new ``lr`` or ``steps``, the rows permuted, a new starting point), all made by the driver
in one round trip. The contract properties of every returned pair (leaves with
``requires_grad``, float32 of shape (1,)) and of the inputs (left unchanged) are invariants:
they are checked on every call of every check, the long classic fit included.
"""

import torch
from hypothesis import strategies as st

from grader.checks import CheckFailed, check, expect, expect_tensor, invariant, values_of
from grader.i18n.text import N_, T
from grader.strategies import learning_rates, sizes

LEAF_HINT = N_("After `w = w - lr * w.grad`, w is the result of an operation, not a leaf tensor, "
               "so backward() no longer fills w.grad and it stays None. Update the same tensor "
               "in place instead: `with torch.no_grad(): w -= lr * w.grad`, then clear w.grad.")
ACCUMULATION_HINT = N_("Your result matches gradient descent whose gradients pile up: backward() adds "
                       "to .grad, so it must be cleared after every update (w.grad.zero_() or "
                       "w.grad = None).")
SUM_HINT = N_("Your result matches gradient descent on the summed squared error: the loss is the "
              "mean, `((w * x + b - y) ** 2).mean()`.")
OFF_BY_ONE_HINT = N_("Your result matches one update too few or too many: make exactly `steps` updates.")
INPUTS_HINT = N_("Start from copies: `w = w0.clone().requires_grad_()` leaves w0 untouched, while "
                 "updating w0 itself changes the caller's tensor.")
LATER_CALL_HINT = N_("The first call was right, so look for state that survives a call: each call "
                     "must start from its own w0 and b0 and use all of its own x and y, whatever "
                     "was computed before.")
KEPT_HINT = N_("Each call must return tensors of its own: create fresh leaves in every call "
               "(`w0.detach().clone().requires_grad_()`) instead of reusing tensors kept between "
               "calls, so that a later call cannot change an earlier result.")
NONE_GRAD_ERRORS = {"NoneType": LEAF_HINT}

MAX_ROWS = 64
MAX_STEPS = 30
LR_RANGE = (1e-3, 0.2)  # near 0.2, 30 steps on x in [-3, 3] may diverge, but stay finite
INPUT_NAMES = ("x", "y", "w0", "b0")


# ----------------------------------------------------------------------------- problems
def _uniform(generator, shape, low, high):
    """Uniform float32 values in [low, high], rounded to 3 decimals so that feedback reads well."""
    values = torch.rand(shape, generator=generator) * (high - low) + low
    return torch.round(values, decimals=3)


# Built once: hypothesis pays for every strategy object it meets for the first time.
ROWS = sizes(1, MAX_ROWS)
STEPS = sizes(0, MAX_STEPS, small=5)
SEEDS = st.integers(0, 2**16)
RATES = learning_rates(*LR_RANGE)
LATER_CALL = st.tuples(RATES, STEPS, SEEDS, st.booleans(), st.booleans())
LATER_CALLS = st.lists(LATER_CALL, max_size=2)


def later_call(n, lr, steps, seed, permute, restart):
    """A later call on the same tensors: its own lr and steps, maybe permuted rows, maybe a
    new starting point (``rows``, ``w0``, ``b0`` are None where the first call's are kept)."""
    later = {"lr": lr, "steps": steps, "rows": None, "w0": None, "b0": None}
    generator = torch.Generator().manual_seed(seed)
    if n > 1 and permute:
        later["rows"] = torch.randperm(n, generator=generator).tolist()
    if restart:
        later["w0"], later["b0"] = _uniform(generator, (1,), -2, 2), _uniform(generator, (1,), -2, 2)
    return later


@st.composite
def problems(draw, steps=STEPS, later_calls=LATER_CALLS):
    """N in 1..64 (mostly small), x and y in [-3, 3], w0 and b0 in [-2, 2], a continuous lr,
    and the later calls ``later_calls`` draws. Hypothesis draws sizes and seeds; torch draws
    the numbers (far cheaper than drawing every element through hypothesis)."""
    n = draw(ROWS)
    generator = torch.Generator().manual_seed(draw(SEEDS))
    return {
        "x": _uniform(generator, (n, 1), -3, 3),
        "y": _uniform(generator, (n, 1), -3, 3),
        "w0": _uniform(generator, (1,), -2, 2),
        "b0": _uniform(generator, (1,), -2, 2),
        "lr": draw(RATES),
        "steps": draw(steps),
        "then": [later_call(n, *later) for later in draw(later_calls)],
    }


def call_inputs(problem):
    """The inputs of every call the driver makes for ``problem``, first call first."""
    first = {name: problem[name] for name in (*INPUT_NAMES, "lr", "steps")}
    calls = [first]
    for later in problem.get("then", ()):
        call = dict(first, lr=later["lr"], steps=later["steps"])
        if later["rows"] is not None:
            rows = torch.tensor(later["rows"], dtype=torch.long)
            call["x"], call["y"] = first["x"][rows], first["y"][rows]
        if later["w0"] is not None:
            call["w0"], call["b0"] = later["w0"], later["b0"]
        calls.append(call)
    return calls


def _fixed(x, y, w0, b0, lr, steps, then=()):
    """An explicit problem from plain numbers."""
    return {"x": torch.tensor(x).reshape(-1, 1), "y": torch.tensor(y).reshape(-1, 1),
            "w0": torch.tensor([w0]), "b0": torch.tensor([b0]), "lr": lr, "steps": steps,
            "then": [{"lr": later["lr"], "steps": later["steps"], "rows": later.get("rows"),
                      "w0": later.get("w0"), "b0": later.get("b0")} for later in then]}


def _largest_problem():
    generator = torch.Generator().manual_seed(64)
    return {"x": _uniform(generator, (MAX_ROWS, 1), -3, 3), "y": _uniform(generator, (MAX_ROWS, 1), -3, 3),
            "w0": torch.tensor([1.5]), "b0": torch.tensor([-1.5]), "lr": LR_RANGE[1],
            "steps": MAX_STEPS, "then": []}


# The boundaries the statement names, tried first and in this order: steps = 0, one point,
# the second step (where the rebinding starter crashes), the largest problem, and the
# sequence a notebook makes: fit again with another lr, on permuted rows, from a new start.
BOUNDARIES = [
    _fixed([1.0, 2.0], [2.0, 3.0], 0.5, -0.5, 0.1, 0),
    _fixed([1.5], [-1.0], 0.25, 0.75, 0.05, 1),
    _fixed([1.0, 2.0], [2.0, 3.0], 0.5, -0.5, 0.1, 2),
    _largest_problem(),
    _fixed([1.0, -2.0, 0.5], [2.0, 0.0, 1.0], 0.5, -0.5, 0.05, 3, then=[
        {"lr": 0.1, "steps": 3},
        {"lr": 0.1, "steps": 3, "rows": [2, 0, 1]},
        {"lr": 0.1, "steps": 3, "w0": torch.tensor([1.0]), "b0": torch.tensor([1.0])},
    ]),
]


# ----------------------------------------------------------------------------- references
def gradient_descent(x, y, w0, b0, lr, steps, *, accumulate=False, reduce="mean"):
    """The reference (and, with the keyword options, the usual mistakes), in float32.

    The gradients of the loss are written out (dL/dw = 2 mean(r x), dL/db = 2 mean(r) for the
    residual r = w x + b - y): the same numbers autograd gives, up to rounding, at a fraction
    of the cost. ``accumulate=True`` adds every gradient to the sum of the earlier ones, as
    ``backward()`` does when ``.grad`` is never cleared.
    """
    w, b = w0.clone(), b0.clone()
    grad_w, grad_b = torch.zeros_like(w), torch.zeros_like(b)
    scale = 2.0 / x.shape[0] if reduce == "mean" else 2.0
    for _ in range(steps):
        residual = w * x + b - y
        step_w, step_b = scale * (residual * x).sum(dim=0), scale * residual.sum(dim=0)
        grad_w = grad_w + step_w if accumulate else step_w
        grad_b = grad_b + step_b if accumulate else step_b
        w, b = w - lr * grad_w, b - lr * grad_b
    return w, b


def _matches(got_w, got_b, ref):
    return (bool(torch.allclose(got_w.value, ref[0], rtol=1e-4, atol=1e-5))
            and bool(torch.allclose(got_b.value, ref[1], rtol=1e-4, atol=1e-5)))


def diagnose(call, got_w, got_b):
    """Name the misconception whose trajectory the answer follows, if any."""
    candidates = [
        (ACCUMULATION_HINT, dict(accumulate=True)),
        (SUM_HINT, dict(reduce="sum")),
        (OFF_BY_ONE_HINT, dict(steps=call["steps"] - 1)),
        (OFF_BY_ONE_HINT, dict(steps=call["steps"] + 1)),
    ]
    for hint, change in candidates:
        args = {**call, **change}
        if args["steps"] < 0:
            continue
        if _matches(got_w, got_b, gradient_descent(**args)):
            return hint
    return None


def fits_of(reply):
    """What the driver reported for each call, first call first."""
    return [reply] + list(reply.get("later", ()))


def _where(index, problem):
    """How feedback names call ``index`` of a problem (a phrase in parentheses): None when
    there is only one."""
    later = problem.get("then") or ()
    if not later:
        return None
    calls = len(later) + 1
    if index == 0:
        return T("(in the first of {calls} calls on the same tensors)", calls=calls)
    call = later[index - 1]
    details = {"call": index + 1, "calls": calls, "lr": call["lr"], "steps": call["steps"]}
    permuted, restarted = call["rows"] is not None, call["w0"] is not None
    if permuted and restarted:
        return T("(in call {call} of {calls} on the same tensors: lr={lr:g}, steps={steps}, rows of x and y "
                 "permuted, new w0 and b0)", **details)
    if permuted:
        return T("(in call {call} of {calls} on the same tensors: lr={lr:g}, steps={steps}, rows of x and y "
                 "permuted)", **details)
    if restarted:
        return T("(in call {call} of {calls} on the same tensors: lr={lr:g}, steps={steps}, new w0 and b0)",
                 **details)
    return T("(in call {call} of {calls} on the same tensors: lr={lr:g}, steps={steps})", **details)


def _named(name, where):
    """How feedback names the tensor ``name`` of a call (``where``: see :func:`_where`)."""
    return name if where is None else T("{name} {where}", name=name, where=where)


# ----------------------------------------------------------------------------- checks
@invariant(points=2, calls=("run_fit",), examples=6,
           probe=problems(steps=st.integers(1, 5), later_calls=st.lists(LATER_CALL, max_size=1)),
           description=N_("Returns w and b as float32 leaf tensors of shape (1,) with requires_grad=True, "
                          "on every call."),
           hint=LEAF_HINT, error_hints=NONE_GRAD_ERRORS, graph=True)
def returns_leaf_parameters(args, reply):
    for index, fit in enumerate(fits_of(reply)):
        where = _where(index, args)
        for name in ("w", "b"):
            what = _named(name, where)
            tensor = expect_tensor(what, fit[name], shape=(1,))
            expect(tensor.requires_grad, T("{what} must have requires_grad=True.", what=what), got=tensor)
            expect(tensor.is_leaf, T("{what} must be a leaf tensor, but it was produced by {grad_fn}.",
                                     what=what, grad_fn=tensor.grad_fn), got=tensor, hint=LEAF_HINT)


@check(points=4, problem=problems(), explicit=[{"problem": p} for p in BOUNDARIES],
       description=N_("Makes exactly `steps` gradient-descent updates on the mean squared error, "
                      "on every call, and a later call leaves earlier results alone."),
       hint=N_("Compare your loop with plain gradient descent: loss, backward, update, clear the gradients."),
       error_hints=NONE_GRAD_ERRORS, graph=True)
def follows_gradient_descent(sub, problem):
    pending = sub.start("run_fit", **problem)
    calls = call_inputs(problem)
    expected = [gradient_descent(**call) for call in calls]  # computed while the submission runs
    got = pending.result()
    fits = fits_of(got)
    for index, (call, ref, fit) in enumerate(zip(calls, expected, fits)):
        if index and not _inputs_intact(calls[index - 1], fits[index - 1]):
            return  # an earlier call changed the inputs: leaves_inputs_unchanged reports that
        where = _where(index, problem)
        w = expect_tensor(_named("w", where), fit["w"], shape=(1,))
        b = expect_tensor(_named("b", where), fit["b"], shape=(1,))
        if not _matches(w, b, ref):
            raise CheckFailed(T("After the updates, (w, b) are not where gradient descent leads.") if where is None
                              else T("After the updates {where}, (w, b) are not where gradient descent leads.",
                                     where=where),
                              expected=list(ref), got=[w.value, b.value],
                              hint=diagnose(call, w, b) or (LATER_CALL_HINT if index else None))
    expect_earlier_results_kept(problem, got)


def _inputs_intact(call, fit):
    return all(torch.equal(call[name], fit["inputs_after"][name].value) for name in INPUT_NAMES)


def expect_earlier_results_kept(problem, got):
    """After the last call, every pair returned earlier still holds what it held when returned."""
    fits = fits_of(got)
    if len(fits) < 2:
        return
    for index, (fit, kept) in enumerate(zip(fits, got["kept"])):
        for name, now in zip(("w", "b"), kept):
            then = fit[name].value
            expect(torch.equal(values_of(now), then),
                   T("The {name} returned by call {call} changed when fit was called again: "
                     "a later call must not change an earlier result.", name=name, call=index + 1),
                   expected=then, got=now, hint=KEPT_HINT)


def classic_problem():
    """The figure from the question threads: y = 2.3 + 5.1 x plus noise."""
    generator_state = torch.random.get_rng_state()
    try:
        torch.manual_seed(0)
        x = torch.rand(100, 1) * 5
        y = 2.3 + 5.1 * x + 0.2 * torch.randn(100, 1)
        w0, b0 = torch.randn(1), torch.randn(1)
    finally:
        torch.random.set_rng_state(generator_state)
    return {"x": x, "y": y, "w0": w0, "b0": b0, "lr": 0.01, "steps": 500}


@check(points=2, description=N_("Reproduces the classic fit: w = 5.109, b = 2.248 after 500 steps at lr 0.01."),
       error_hints=NONE_GRAD_ERRORS)
def reproduces_classic_fit(sub):
    problem = classic_problem()
    got = sub.call("run_fit", **problem)
    w, b = expect_tensor("w", got["w"], shape=(1,)), expect_tensor("b", got["b"], shape=(1,))
    expected = [torch.tensor([5.109]), torch.tensor([2.248])]
    if not all(torch.allclose(got_t.value, exp_t, rtol=0, atol=0.01)
               for got_t, exp_t in zip((w, b), expected)):
        raise CheckFailed(N_("After 500 steps at lr 0.01, (w, b) should be (5.109, 2.248) within 0.01."),
                          expected=expected, got=[w.value, b.value],
                          hint=diagnose(problem, w, b) or N_("Run the example from the statement and compare."))


@invariant(points=2, calls=("run_fit",), examples=6,
           probe=problems(steps=st.integers(1, 5), later_calls=st.lists(LATER_CALL, max_size=1)),
           description=N_("Leaves x, y, w0 and b0 unchanged, on every call."), hint=INPUTS_HINT,
           error_hints=NONE_GRAD_ERRORS)
def leaves_inputs_unchanged(args, reply):
    for index, (call, fit) in enumerate(zip(call_inputs(args), fits_of(reply))):
        for name in INPUT_NAMES:
            before, after = call[name], fit["inputs_after"][name]
            expect(torch.equal(before, after.value),
                   T("fit changed its input {what}.", what=_named(name, _where(index, args))),
                   expected=before, got=after)
