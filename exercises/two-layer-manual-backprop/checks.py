"""Checks for two-layer-manual-backprop: ``two_layer_grads(x, w1, w2, y) -> (loss, grad_w1, grad_w2)``.

The loss is ``((x @ w1).clamp(min=0) @ w2 - y).pow(2).sum()``. References come from autograd,
run here in the trusted process. Random problems are drawn from a seed (so no pre-activation
is ever exactly 0); two families of built problems force the edge cases: every pre-activation
negative, and some pre-activations exactly 0. For the second family, x and w1 hold small
integers and halves, so ``x @ w1`` is exact in float32 whatever the summation order, and the
zeros are zeros in every correct idiom.

At exactly 0, autograd's ``clamp(min=0)`` lets the gradient through (slope 1), unlike
``torch.relu``, which blocks it (slope 0); the exercise asks for the clamp convention.
"""

import torch
from hypothesis import strategies as st

from grader.checks import CheckFailed, check, expect_close, expect_tensor
from grader.strategies import random_tensors

MASK_HINT = ("The ReLU passes no gradient where its input was negative: multiply the incoming "
             "gradient by the mask of the pre-activation h = x @ w1, for example "
             "`grad_h = grad_h_relu * (h >= 0)`, or clone it and set `grad_h[h < 0] = 0`.")
ZERO_HINT = ("Your gradient blocks the ReLU where its input is exactly 0. Autograd's "
             "`clamp(min=0)` lets the gradient through there (it takes the slope at 0 to be 1, "
             "unlike torch.relu), so zero the gradient only where h < 0, not where h <= 0.")
FACTOR_HINT = ("Your gradients are half of autograd's: the derivative of (y_pred - y) ** 2 is "
               "2 * (y_pred - y), and the factor 2 is missing.")
MEAN_HINT = ("Your values match the mean of the squared errors: the loss is their sum, "
             "`(y_pred - y).pow(2).sum()`, so nothing is divided by the number of elements.")
HALF_HINT = ("Your gradients are half of autograd's: either the factor 2 of the derivative of "
             "(y_pred - y) ** 2 is missing, or the loss was averaged over the 2 elements of y "
             "instead of summed.")
PREACTIVATION_HINT = ("grad_w2 must be computed from the output of the ReLU: "
                      "`grad_w2 = h_relu.T @ grad_y_pred` with `h_relu = (x @ w1).clamp(min=0)`, "
                      "not from the pre-activation x @ w1.")
SHAPE_HINT = ("A gradient has the shape of the tensor it belongs to: `grad_w1 = x.T @ grad_h` has "
              "the shape (D_in, H) of w1, and `grad_w2 = h_relu.T @ grad_y_pred` has the shape "
              "(H, D_out) of w2. Check the order of the factors and their transposes.")
LOSS_HINT = ("The loss is the sum, over every element, of (y_pred - y) ** 2, with "
             "`y_pred = (x @ w1).clamp(min=0) @ w2`.")
ALL_NEGATIVE_HINT = ("When every pre-activation is negative, the ReLU outputs only zeros and "
                     "passes no gradient back, so both gradients must be exactly zero. " + MASK_HINT)


# ----------------------------------------------------------------------------- problems
# Built once: hypothesis validates a strategy object the first time it is drawn from.
SIZES, SEEDS = st.integers(1, 5), st.integers(0, 2**16)
SIGNS, PIVOTS = st.sampled_from([1.0, -1.0]), st.sampled_from([1.0, -1.0, 2.0, -2.0])


def _dims(draw):
    return [draw(SIZES) for _ in range(4)]  # N, D_in, H, D_out


@st.composite
def random_problems(draw):
    """Standard-normal tensors drawn from a seed: no pre-activation is exactly 0."""
    n, d_in, hidden, d_out = _dims(draw)
    seed = draw(SEEDS)
    x, w1, w2, y = random_tensors(seed, [(n, d_in), (d_in, hidden), (hidden, d_out), (n, d_out)])
    return {"x": x, "w1": w1, "w2": w2, "y": y}


@st.composite
def all_negative_problems(draw):
    """Every entry of x @ w1 is negative: x and w1 have opposite signs, term by term."""
    n, d_in, hidden, d_out = _dims(draw)
    seed = draw(SEEDS)
    x, w1, w2, y = random_tensors(seed, [(n, d_in), (d_in, hidden), (hidden, d_out), (n, d_out)])
    # Flipping the sign of column k of x and of row k of w1 leaves x @ w1 unchanged.
    signs = torch.tensor([draw(SIGNS) for _ in range(d_in)])
    x = (x.abs() + 0.1) * signs
    w1 = -(w1.abs() + 0.1) * signs[:, None]
    return {"x": x, "w1": w1, "w2": w2, "y": y}


@st.composite
def zero_preactivation_problems(draw):
    """Each hidden unit j has a row i_j with (x @ w1)[i_j, j] == 0 exactly, while x[i_j] != 0.

    x and w1 hold small integers; one column k of x holds +-1 or +-2, and w1[k, j] is solved
    so that row i_j cancels exactly. All values are integers or halves: every product and
    sum is exact in float32, in any order.
    """
    n, d_in, hidden, d_out = _dims(draw)
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
    return {"x": x, "w1": w1, "w2": w2, "y": y}


# ----------------------------------------------------------------------------- references
def reference(problem):
    """Loss and gradients from autograd, the canonical way."""
    w1 = problem["w1"].clone().requires_grad_()
    w2 = problem["w2"].clone().requires_grad_()
    loss = ((problem["x"] @ w1).clamp(min=0) @ w2 - problem["y"]).pow(2).sum()
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
    else:
        grad_h = grad_h_relu
    return {"grad_w1": x.T @ grad_h, "grad_w2": grad_w2}


MISTAKES = [
    (MASK_HINT, dict(mask="none")),
    (ZERO_HINT, dict(mask="relu")),
    (FACTOR_HINT, dict(factor=1.0)),
    (MEAN_HINT, dict(mean=True)),
    (PREACTIVATION_HINT, dict(w2_from="h")),
]


def close(got, expected):
    """rtol 1e-4, and an absolute tolerance that grows with the size of the gradient."""
    scale = max(1.0, float(expected.abs().max())) if expected.numel() else 1.0
    return bool(torch.allclose(got.double(), expected.double(), rtol=1e-4, atol=1e-5 * scale))


def diagnose(name, got, problem):
    """The hint of the usual mistake whose result the answer matches, if any."""
    correct = by_hand(**problem)[name]
    matches = []
    for hint, mistake in MISTAKES:
        wrong = by_hand(**problem, **mistake)[name]
        if not close(wrong, correct) and close(got, wrong):
            matches.append(hint)
    if FACTOR_HINT in matches and MEAN_HINT in matches:  # y has 2 elements: both halve
        return HALF_HINT
    return matches[0] if matches else None


def compare_gradient(name, got, expected, problem, message, hint):
    tensor = expect_tensor(name, got[name], shape=tuple(expected.shape), hint=SHAPE_HINT)
    if not close(tensor.value, expected):
        raise CheckFailed(message.format(name=name), expected=expected, got=tensor.value,
                          hint=diagnose(name, tensor.value, problem) or hint)


def run(sub, problem):
    pending = sub.start("run_two_layer_grads", **problem)
    expected = reference(problem)  # computed while the submission runs
    return pending.result(), expected


# ----------------------------------------------------------------------------- checks
@check(points=1, examples=10, problem=random_problems(),
       description="Returns the loss ((x @ w1).clamp(min=0) @ w2 - y).pow(2).sum().",
       hint=LOSS_HINT)
def loss_matches_forward_pass(sub, problem):
    got, expected = run(sub, problem)
    numel = problem["y"].numel()
    hint = MEAN_HINT if numel > 1 and abs(got["loss"] * numel - expected["loss"]) <= 1e-4 * abs(
        expected["loss"]) else LOSS_HINT
    expect_close("The loss", got["loss"], expected["loss"], rtol=1e-4, atol=1e-5, hint=hint)


@check(points=2, examples=15, problem=random_problems(),
       description="grad_w2 equals the gradient autograd computes for w2, on random problems.",
       hint=PREACTIVATION_HINT)
def grad_w2_matches_autograd(sub, problem):
    got, expected = run(sub, problem)
    compare_gradient("grad_w2", got, expected["grad_w2"], problem,
                     "{name} does not match the gradient autograd computes for w2.",
                     "Work backwards from grad_y_pred = 2 * (y_pred - y): "
                     "grad_w2 = h_relu.T @ grad_y_pred.")


@check(points=3, examples=20, problem=random_problems(),
       description="grad_w1 equals the gradient autograd computes for w1, on random problems.",
       hint=MASK_HINT)
def grad_w1_matches_autograd(sub, problem):
    got, expected = run(sub, problem)
    compare_gradient("grad_w1", got, expected["grad_w1"], problem,
                     "{name} does not match the gradient autograd computes for w1.", MASK_HINT)


@check(points=2, examples=10, problem=all_negative_problems(),
       description="When every pre-activation x @ w1 is negative, both gradients are zero.",
       hint=ALL_NEGATIVE_HINT)
def handles_all_negative_preactivations(sub, problem):
    got, expected = run(sub, problem)
    for name in ("grad_w2", "grad_w1"):
        compare_gradient(name, got, expected[name], problem,
                         "Every pre-activation x @ w1 is negative here, so {name} must be zero, "
                         "as autograd computes it.", ALL_NEGATIVE_HINT)


@check(points=1, examples=15, problem=zero_preactivation_problems(),
       description="Where x @ w1 is exactly 0, the gradient passes, as with autograd's clamp(min=0).",
       hint=ZERO_HINT)
def uses_torchs_subgradient_at_zero(sub, problem):
    got, expected = run(sub, problem)
    for name in ("grad_w2", "grad_w1"):
        compare_gradient(name, got, expected[name], problem,
                         "Some pre-activations x @ w1 are exactly 0 here, and {name} does not "
                         "match the gradient autograd computes.", ZERO_HINT)
