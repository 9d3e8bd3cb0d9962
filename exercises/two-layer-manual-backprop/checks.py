"""Checks for two-layer-manual-backprop: ``two_layer_grads(x, w1, w2, y) -> (loss, grad_w1, grad_w2)``.

The loss is ``((x @ w1).clamp(min=0) @ w2 - y).pow(2).sum()``. References come from autograd,
run here in the trusted process.

Random problems have N from 1 to 64 rows (mostly few) and come in four kinds: ordinary
standard-normal values; tiny ones (x and y scaled by 1e-4) and huge ones (scaled by 1e3); and
problems where some pre-activations lie within 1e-6 of zero, on both sides. For those, some
rows of x are a multiple of a unit vector e_k and row k of w1 holds values of magnitude
1e-9..1e-6, so that those pre-activations are a single product, exact in float32 whatever
the order of the sums, and their sign is the same in every correct idiom. Inputs arrive
contiguous, transposed or strided, and a problem may ask for one or two follow-up calls that
keep the very same x and y tensors with new weights, or the same weights with a new batch.

Two families of built problems force the other edge cases: every pre-activation negative,
and some pre-activations exactly 0. For the second family, x and w1 hold small integers and
halves, so ``x @ w1`` is exact in float32 whatever the summation order, and the zeros are
zeros in every correct idiom. At exactly 0, autograd's ``clamp(min=0)`` lets the gradient
through (slope 1), unlike ``torch.relu``, which blocks it (slope 0); the exercise asks for the
clamp convention.
"""

import torch
from hypothesis import strategies as st

from grader.checks import CheckFailed, check, expect, expect_close, expect_tensor
from grader.i18n.text import N_, T, TN
from grader.strategies import layouts, random_tensors

MASK_HINT = N_("The ReLU passes no gradient where its input was negative: multiply the incoming "
               "gradient by the mask of the pre-activation h = x @ w1, for example "
               "`grad_h = grad_h_relu * (h >= 0)`, or clone it and set `grad_h[h < 0] = 0`.")
ZERO_HINT = N_("Your gradient blocks the ReLU where its input is exactly 0. Autograd's "
               "`clamp(min=0)` lets the gradient through there (it takes the slope at 0 to be 1, "
               "unlike torch.relu), so zero the gradient only where h < 0, not where h <= 0.")
FACTOR_HINT = N_("Your gradients are half of autograd's: the derivative of (y_pred - y) ** 2 is "
                 "2 * (y_pred - y), and the factor 2 is missing.")
MEAN_HINT = N_("Your values match the mean of the squared errors: the loss is their sum, "
               "`(y_pred - y).pow(2).sum()`, so nothing is divided by the number of elements.")
HALF_HINT = N_("Your gradients are half of autograd's: either the factor 2 of the derivative of "
               "(y_pred - y) ** 2 is missing, or the loss was averaged over the 2 elements of y "
               "instead of summed.")
PREACTIVATION_HINT = N_("grad_w2 must be computed from the output of the ReLU: "
                        "`grad_w2 = h_relu.T @ grad_y_pred` with `h_relu = (x @ w1).clamp(min=0)`, "
                        "not from the pre-activation x @ w1.")
SHAPE_HINT = N_("A gradient has the shape of the tensor it belongs to: `grad_w1 = x.T @ grad_h` has "
                "the shape (D_in, H) of w1, and `grad_w2 = h_relu.T @ grad_y_pred` has the shape "
                "(H, D_out) of w2. Check the order of the factors and their transposes.")
LOSS_HINT = N_("The loss is the sum, over every element, of (y_pred - y) ** 2, with "
               "`y_pred = (x @ w1).clamp(min=0) @ w2`.")
ALL_NEGATIVE_HINT = N_("When every pre-activation is negative, the ReLU outputs only zeros and "
                       "passes no gradient back, so both gradients must be exactly zero. The ReLU passes "
                       "no gradient where its input was negative: multiply the incoming gradient by the "
                       "mask of the pre-activation h = x @ w1, for example "
                       "`grad_h = grad_h_relu * (h >= 0)`, or clone it and set `grad_h[h < 0] = 0`.")


NEAR_ZERO_HINT = N_("Your mask lets the gradient through where the pre-activation is slightly "
                    "negative: a value like -1e-7 is negative, and the ReLU passes no gradient "
                    "there. Compare with 0 exactly (`h < 0`), without a tolerance.")

# ----------------------------------------------------------------------------- problems
def mostly_small(high, small=5):
    """1..``high``, three times in four from 1..``small`` (quick to run and to shrink)."""
    few = st.integers(1, small)
    return st.one_of(few, few, few, st.integers(1, high))


# Built once: hypothesis validates a strategy object the first time it is drawn from.
BATCHES, SIZES, SEEDS = mostly_small(64), st.integers(1, 5), st.integers(0, 2**16)
SIGNS, PIVOTS = st.sampled_from([1.0, -1.0]), st.sampled_from([1.0, -1.0, 2.0, -2.0])
LAYOUTS = layouts()
KINDS = st.sampled_from(["ordinary", "ordinary", "ordinary", "near_zero", "tiny", "huge"])
SCALES = {"ordinary": 1.0, "near_zero": 1.0, "tiny": 1e-4, "huge": 1e3}  # of x and y
UNIT_PIVOTS = st.sampled_from([1.0, -1.0, 0.5, -0.5])
EXPONENTS = st.floats(-9.0, -6.0)
FOLLOW_UPS = st.sampled_from(["weights", "batch"])


def _dims(draw, rows=BATCHES):
    return [draw(rows)] + [draw(SIZES) for _ in range(3)]  # N, D_in, H, D_out


def near_zero(draw, x, w1):
    """Rows of x that are +-e_k or +-e_k / 2, and row k of w1 with magnitudes 1e-9..1e-6 and
    alternating signs: those rows' pre-activations are single products within 1e-6 of zero,
    negative and positive."""
    n, d_in = x.shape
    x, w1 = x.clone(), w1.clone()
    k = draw(st.integers(0, d_in - 1))
    for i in draw(st.lists(st.integers(0, n - 1), min_size=1, max_size=3, unique=True)):
        x[i] = 0.0
        x[i, k] = draw(UNIT_PIVOTS)
    for j in range(w1.shape[1]):
        magnitude = 10.0 ** draw(EXPONENTS)
        w1[k, j] = magnitude if j % 2 else -magnitude
    return x, w1


def follow_up(draw, seed, shapes, scale):
    """New weights (w1, w2), or a new batch (x, y) scaled like the first one."""
    if draw(FOLLOW_UPS) == "weights":
        w1, w2 = random_tensors(seed, [shapes["w1"], shapes["w2"]])
        return {"w1": w1, "w2": w2}
    x, y = random_tensors(seed, [shapes["x"], shapes["y"]], scale=scale)
    return {"x": x, "y": y}


@st.composite
def random_problems(draw):
    """A problem of one of the four kinds, with up to two follow-up calls, in a drawn layout."""
    n, d_in, hidden, d_out = _dims(draw)
    kind, seed = draw(KINDS), draw(SEEDS)
    shapes = {"x": (n, d_in), "w1": (d_in, hidden), "w2": (hidden, d_out), "y": (n, d_out)}
    x, w1, w2, y = random_tensors(seed, list(shapes.values()))
    x, y = x * SCALES[kind], y * SCALES[kind]
    if kind == "near_zero":
        x, w1 = near_zero(draw, x, w1)
    count = draw(st.integers(0, 2))
    then = [follow_up(draw, seed + 1 + i, shapes, SCALES[kind]) for i in range(count)]
    return {"x": x, "w1": w1, "w2": w2, "y": y, "then": then, "layout": draw(LAYOUTS)}


@st.composite
def all_negative_problems(draw):
    """Every entry of x @ w1 is negative: x and w1 have opposite signs, term by term. (Few
    rows: the many-row case is the random problems' business, and each row costs.)"""
    n, d_in, hidden, d_out = _dims(draw, SIZES)
    seed = draw(SEEDS)
    x, w1, w2, y = random_tensors(seed, [(n, d_in), (d_in, hidden), (hidden, d_out), (n, d_out)])
    # Flipping the sign of column k of x and of row k of w1 leaves x @ w1 unchanged.
    signs = torch.tensor([draw(SIGNS) for _ in range(d_in)])
    x = (x.abs() + 0.1) * signs
    w1 = -(w1.abs() + 0.1) * signs[:, None]
    return {"x": x, "w1": w1, "w2": w2, "y": y, "layout": draw(LAYOUTS)}


@st.composite
def zero_preactivation_problems(draw):
    """Each hidden unit j has a row i_j with (x @ w1)[i_j, j] == 0 exactly, while x[i_j] != 0.

    x and w1 hold small integers; one column k of x holds +-1 or +-2, and w1[k, j] is solved
    so that row i_j cancels exactly. All values are integers or halves: every product and
    sum is exact in float32, in any order. Few rows, as for all-negative problems.
    """
    n, d_in, hidden, d_out = _dims(draw, SIZES)
    seed = draw(SEEDS)
    generator = torch.Generator().manual_seed(seed)
    x = torch.randint(-3, 4, (n, d_in), generator=generator).float()
    w1 = torch.randint(-3, 4, (d_in, hidden), generator=generator).float()
    k = draw(st.integers(0, d_in - 1))
    x[:, k] = torch.tensor([draw(PIVOTS) for _ in range(n)])
    for j in range(hidden):
        i = draw(st.integers(0, n - 1))
        rest = x[i] @ w1[:, j] - x[i, k] * w1[k, j]
        w1[k, j] = -rest / x[i, k] + 0.0  # + 0.0 turns -0.0 into 0.0
    w2, y = random_tensors(seed + 1, [(hidden, d_out), (n, d_out)])
    return {"x": x, "w1": w1, "w2": w2, "y": y, "layout": draw(LAYOUTS)}


def _problem(x, w1, w2, y, then=(), layout="contiguous"):
    as_tensors = lambda values: {k: torch.tensor(v) for k, v in values.items()}  # noqa: E731
    return {**as_tensors({"x": x, "w1": w1, "w2": w2, "y": y}),
            "then": [as_tensors(change) for change in then], "layout": layout}


# The boundaries the statement names, tried before any random problem.
ONE_ROW = _problem([[0.5, -1.0, 2.0]], [[1.0, -0.5], [0.3, 0.8], [0.6, 0.2]],
                   [[0.7, -1.2], [0.4, 0.9]], [[0.5, -0.5]])  # N = 1
ONE_COLUMN = _problem([[1.0, -0.5], [0.3, 0.8], [-1.5, 0.4]], [[0.9, -0.7], [0.2, 1.1]],
                      [[1.3], [-0.6]], [[0.4], [-1.0], [0.7]], layout="transposed")  # D_out = 1
NEAR_ZERO = _problem([[1.0, 0.0], [-0.5, 0.0], [0.7, -1.2]], [[-5e-7, 8e-7], [0.9, -0.6]],
                     [[1.1, -0.4], [0.8, 0.5]], [[0.3, -0.2], [-0.6, 0.9], [0.5, 0.1]])
# The same x and y with new weights whose ReLU mask differs from the first ones'.
NEW_WEIGHTS = _problem([[1.0, 0.5], [-0.8, 1.2]], [[0.6, -0.9, 0.4], [0.7, 0.3, -1.1]],
                       [[0.8], [-0.5], [1.2]], [[0.3], [-0.7]],
                       then=[{"w1": [[-0.6, 0.9, -0.4], [-0.7, -0.3, 1.1]],
                              "w2": [[-0.4], [1.0], [0.6]]}])
# The same weights with a new batch.
NEW_BATCH = _problem([[1.0, 0.5], [-0.8, 1.2]], [[0.6, -0.9, 0.4], [0.7, 0.3, -1.1]],
                     [[0.8], [-0.5], [1.2]], [[0.3], [-0.7]],
                     then=[{"x": [[-1.0, 0.7], [0.9, -0.4]], "y": [[1.1], [-0.2]]}])


# ----------------------------------------------------------------------------- references
def calls_of(problem):
    """The inputs of every call a problem makes, in order: the first, then each follow-up."""
    inputs = {name: problem[name] for name in ("x", "w1", "w2", "y")}
    calls = [inputs]
    for changes in problem.get("then", ()):
        inputs = {**inputs, **changes}
        calls.append(inputs)
    return calls


def reference(inputs):
    """Loss and gradients from autograd, the canonical way."""
    w1 = inputs["w1"].clone().requires_grad_()
    w2 = inputs["w2"].clone().requires_grad_()
    loss = ((inputs["x"] @ w1).clamp(min=0) @ w2 - inputs["y"]).pow(2).sum()
    loss.backward()
    return {"loss": loss.item(), "grad_w1": w1.grad, "grad_w2": w2.grad}


def by_hand(x, w1, w2, y, *, mask="clamp", factor=2.0, mean=False, w2_from="h_relu"):
    """The backward pass written out, with switches for the usual mistakes."""
    h = x @ w1
    h_relu = h.clamp(min=0)
    y_pred = h_relu @ w2
    grad_y_pred = factor * (y_pred - y) / (y.numel() if mean else 1)
    grad_w2 = (h_relu if w2_from == "h_relu" else h).T @ grad_y_pred
    grad_h_relu = grad_y_pred @ w2.T
    if mask == "clamp":
        grad_h = grad_h_relu * (h >= 0)
    elif mask == "relu":
        grad_h = grad_h_relu * (h > 0)
    elif mask == "tolerant":
        grad_h = grad_h_relu * (h >= -1e-5)
    else:
        grad_h = grad_h_relu
    return {"grad_w1": x.T @ grad_h, "grad_w2": grad_w2}


MISTAKES = [
    (MASK_HINT, dict(mask="none")),
    (ZERO_HINT, dict(mask="relu")),
    (NEAR_ZERO_HINT, dict(mask="tolerant")),
    (FACTOR_HINT, dict(factor=1.0)),
    (MEAN_HINT, dict(mean=True)),
    (PREACTIVATION_HINT, dict(w2_from="h")),
]


def close(got, expected):
    """rtol 1e-4, and an absolute tolerance of 1e-5 times the largest expected magnitude (so
    that tiny and huge problems are held to the same relative precision; an all-zero gradient
    must be exactly zero)."""
    scale = float(expected.abs().max()) if expected.numel() else 0.0
    return bool(torch.allclose(got.double(), expected.double(), rtol=1e-4, atol=1e-5 * scale))


def loss_tolerance(expected):
    """rtol 1e-4, atol 1e-5 (times the expected loss when it is below 1, for tiny problems)."""
    return 1e-5 * min(1.0, abs(expected))


def loss_is_right(got, expected):
    tolerance = 1e-4 * abs(expected) + loss_tolerance(expected)
    return isinstance(got, float) and abs(got - expected) <= tolerance


def diagnose(name, got, inputs):
    """The hint of the usual mistake whose result the answer matches, if any."""
    correct = by_hand(**inputs)[name]
    matches = []
    for hint, mistake in MISTAKES:
        wrong = by_hand(**inputs, **mistake)[name]
        if not close(wrong, correct) and close(got, wrong):
            matches.append(hint)
    if FACTOR_HINT in matches and MEAN_HINT in matches:  # y has 2 elements: both halve
        return HALF_HINT
    return matches[0] if matches else None


def run(sub, problem):
    """(answer, inputs, reference, fresh answer) for every call of the problem, the references
    computed while the submission runs. The fresh answer (None for the first call) is what a
    call on fresh copies of the same inputs returned: where it is right and the answer is not,
    the function kept something from an earlier call."""
    pending = sub.start("run_two_layer_grads", **problem)
    calls = calls_of(problem)
    expected = [reference(inputs) for inputs in calls]
    reply = pending.result()
    answers, fresh = reply["answers"], reply.get("fresh", [])
    expect(isinstance(answers, list) and len(answers) == len(calls) and isinstance(fresh, list)
           and len(fresh) == len(calls) - 1,
           TN("Expected a report of {n} call from the driver.",
              "Expected a report of {n} calls from the driver.", len(calls)))
    return list(zip(answers, calls, expected, [None] + fresh))


def _kept_and_changed(k, problem):
    """The inputs call ``k`` shares with call ``k - 1`` (the same tensor objects) and the new ones."""
    changed = [name for name in ("x", "w1", "w2", "y") if name in problem["then"][k - 1]]
    kept = [name for name in ("x", "w1", "w2", "y") if name not in changed]
    return ", ".join(kept), ", ".join(changed)


def where(k, problem):
    """How call ``k`` (0-based) of a problem relates to the call before it, for the sentences
    that start "In call 2 (the x, y tensors of call 1, with new w1, w2),": ``{"call",
    "previous", "kept", "changed"}``, or None for the first call."""
    if k == 0:
        return None
    kept, changed = _kept_and_changed(k, problem)
    return {"call": k + 1, "previous": k, "kept": kept, "changed": changed}


def second_call_hint(k, problem):
    kept, changed = _kept_and_changed(k, problem)
    return T("A call on fresh copies of these inputs was right, but the call on the same "
             "{kept} tensors as the call before, with new {changed}, is wrong: something "
             "computed in an earlier call (a cached mask, a cached hidden layer, a global "
             "variable) is reused. The mask and the hidden layer depend on x and w1 "
             "together: recompute them at every call.", kept=kept, changed=changed)


def gradient_is_right(name, answer, expected):
    got = answer.get(name) if isinstance(answer, dict) else None
    return (hasattr(got, "value") and got.shape == tuple(expected[name].shape)
            and got.dtype == torch.float32 and close(got.value, expected[name]))


def compare_gradient(name, answer, expected, inputs, message, hint, diagnosed=True):
    tensor = expect_tensor(name, answer[name], shape=tuple(expected[name].shape), hint=SHAPE_HINT)
    if not close(tensor.value, expected[name]):
        raise CheckFailed(message, expected=expected[name], got=tensor.value,
                          hint=(diagnosed and diagnose(name, tensor.value, inputs)) or hint)


def compare_every_call(sub, problem, names, message, hint):
    """Each call's gradients ``names`` against autograd's (``message(name, call)``: the
    sentence, ``call`` from :func:`where`). A later call that is wrong where a call on fresh
    copies of its inputs was right gets the hint about state kept between calls."""
    for k, (answer, inputs, expected, fresh) in enumerate(run(sub, problem)):
        kept_state = fresh is not None and all(gradient_is_right(n, fresh, expected) for n in names)
        for name in names:
            compare_gradient(name, answer, expected, inputs, message(name, where(k, problem)),
                             second_call_hint(k, problem) if kept_state else hint,
                             diagnosed=not kept_state)


# ----------------------------------------------------------------------------- checks
@check(points=1, examples=8, problem=random_problems(),
       explicit=[{"problem": ONE_COLUMN}, {"problem": NEW_BATCH}],
       description=N_("Returns the loss ((x @ w1).clamp(min=0) @ w2 - y).pow(2).sum(), at every call."),
       hint=LOSS_HINT)
def loss_matches_forward_pass(sub, problem):
    for k, (answer, inputs, expected, fresh) in enumerate(run(sub, problem)):
        numel, want = inputs["y"].numel(), expected["loss"]
        if fresh is not None and loss_is_right(fresh["loss"], want):
            hint = second_call_hint(k, problem)
        elif numel > 1 and abs(answer["loss"] * numel - want) <= 1e-4 * abs(want):
            hint = MEAN_HINT
        else:
            hint = LOSS_HINT
        call = where(k, problem)
        expect_close(T("The loss") if call is None else
                     T("In call {call} (the {kept} tensors of call {previous}, with new {changed}), the loss", **call),
                     answer["loss"], want, rtol=1e-4, atol=loss_tolerance(want), hint=hint)


@check(points=2, examples=10, problem=random_problems(),
       explicit=[{"problem": ONE_ROW}, {"problem": NEW_BATCH}],
       description=N_("grad_w2 equals the gradient autograd computes for w2, on random problems."),
       hint=PREACTIVATION_HINT)
def grad_w2_matches_autograd(sub, problem):
    compare_every_call(sub, problem, ["grad_w2"], lambda name, call: (
        T("{name} does not match the gradient autograd computes for w2.", name=name) if call is None else
        T("In call {call} (the {kept} tensors of call {previous}, with new {changed}), {name} does not match "
          "the gradient autograd computes for w2.", name=name, **call)),
        N_("Work backwards from grad_y_pred = 2 * (y_pred - y): grad_w2 = h_relu.T @ grad_y_pred."))


@check(points=3, examples=12, problem=random_problems(),
       explicit=[{"problem": NEW_WEIGHTS}, {"problem": NEAR_ZERO}],
       description=N_("grad_w1 equals the gradient autograd computes for w1, on random problems."),
       hint=MASK_HINT)
def grad_w1_matches_autograd(sub, problem):
    compare_every_call(sub, problem, ["grad_w1"], lambda name, call: (
        T("{name} does not match the gradient autograd computes for w1.", name=name) if call is None else
        T("In call {call} (the {kept} tensors of call {previous}, with new {changed}), {name} does not match "
          "the gradient autograd computes for w1.", name=name, **call)), MASK_HINT)


def compare_single_call(sub, problem, message, hint):
    """Both gradients of a single call against autograd's (``message(name)``: the sentence)."""
    ((answer, inputs, expected, _),) = run(sub, problem)
    for name in ("grad_w2", "grad_w1"):
        compare_gradient(name, answer, expected, inputs, message(name), hint)


@check(points=2, examples=10, problem=all_negative_problems(),
       description=N_("When every pre-activation x @ w1 is negative, both gradients are zero."),
       hint=ALL_NEGATIVE_HINT)
def handles_all_negative_preactivations(sub, problem):
    compare_single_call(sub, problem, lambda name: T("Every pre-activation x @ w1 is negative here, so {name} "
                                                     "must be zero, as autograd computes it.", name=name),
                        ALL_NEGATIVE_HINT)


@check(points=1, examples=12, problem=zero_preactivation_problems(),
       description=N_("Where x @ w1 is exactly 0, the gradient passes, as with autograd's clamp(min=0)."),
       hint=ZERO_HINT)
def uses_torchs_subgradient_at_zero(sub, problem):
    compare_single_call(sub, problem, lambda name: T("Some pre-activations x @ w1 are exactly 0 here, and {name} "
                                                     "does not match the gradient autograd computes.", name=name),
                        ZERO_HINT)
