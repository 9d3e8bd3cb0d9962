"""Checks for none-grad-after-rebinding: ``fit(x, y, w0, b0, lr, steps) -> (w, b)``.

References are computed here, in the trusted process. Besides the correct trajectory the
checks compute the trajectories of the usual mistakes, so that feedback can name the
misconception instead of only saying "wrong".
"""

import numpy as np
import torch
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from grader.checks import CheckFailed, check, expect, expect_tensor

LEAF_HINT = ("After `w = w - lr * w.grad`, w is the result of an operation, not a leaf tensor, "
             "so backward() no longer fills w.grad and it stays None. Update the same tensor "
             "in place instead: `with torch.no_grad(): w -= lr * w.grad`, then clear w.grad.")
ACCUMULATION_HINT = ("Your result matches gradient descent whose gradients pile up: backward() adds "
                     "to .grad, so it must be cleared after every update (w.grad.zero_() or "
                     "w.grad = None).")
SUM_HINT = ("Your result matches gradient descent on the summed squared error: the loss is the "
            "mean, `((w * x + b - y) ** 2).mean()`.")
OFF_BY_ONE_HINT = "Your result matches one update too few or too many: make exactly `steps` updates."
INPUTS_HINT = ("Start from copies: `w = w0.clone().requires_grad_()` leaves w0 untouched, while "
               "updating w0 itself changes the caller's tensor.")
NONE_GRAD_ERRORS = {"NoneType": LEAF_HINT}


def _floats(low, high):
    return st.floats(low, high, width=32, allow_nan=False, allow_infinity=False)


@st.composite
def problems(draw, min_steps=0, max_steps=25, max_n=20):
    n = draw(st.integers(1, max_n))
    data = {
        "x": torch.from_numpy(draw(arrays(np.float32, (n, 1), elements=_floats(-3, 3)))),
        "y": torch.from_numpy(draw(arrays(np.float32, (n, 1), elements=_floats(-3, 3)))),
        "w0": torch.from_numpy(draw(arrays(np.float32, (1,), elements=_floats(-2, 2)))),
        "b0": torch.from_numpy(draw(arrays(np.float32, (1,), elements=_floats(-2, 2)))),
        "lr": draw(st.sampled_from([0.001, 0.01, 0.03, 0.05, 0.1])),
        "steps": draw(st.integers(min_steps, max_steps)),
    }
    return data


def gradient_descent(x, y, w0, b0, lr, steps, *, accumulate=False, reduce="mean"):
    """The reference (and, with the keyword options, the usual mistakes)."""
    w = w0.clone().requires_grad_()
    b = b0.clone().requires_grad_()
    for _ in range(steps):
        residual = (w * x + b - y) ** 2
        loss = residual.mean() if reduce == "mean" else residual.sum()
        loss.backward()
        with torch.no_grad():
            w -= lr * w.grad
            b -= lr * b.grad
        if not accumulate:
            w.grad = None
            b.grad = None
    return w.detach(), b.detach()


def _matches(got_w, got_b, ref):
    return (bool(torch.allclose(got_w.value, ref[0], rtol=1e-4, atol=1e-5))
            and bool(torch.allclose(got_b.value, ref[1], rtol=1e-4, atol=1e-5)))


def diagnose(problem, got_w, got_b):
    """Name the misconception whose trajectory the answer follows, if any."""
    candidates = [
        (ACCUMULATION_HINT, dict(accumulate=True)),
        (SUM_HINT, dict(reduce="sum")),
        (OFF_BY_ONE_HINT, dict(steps=problem["steps"] - 1)),
        (OFF_BY_ONE_HINT, dict(steps=problem["steps"] + 1)),
    ]
    for hint, change in candidates:
        args = {**problem, **change}
        if args["steps"] < 0:
            continue
        if _matches(got_w, got_b, gradient_descent(**args)):
            return hint
    return None


@check(points=2, examples=10, problem=problems(min_steps=1, max_steps=5),
       description="Returns w and b as leaf tensors of shape (1,) with requires_grad=True.",
       hint=LEAF_HINT, error_hints=NONE_GRAD_ERRORS)
def returns_leaf_parameters(sub, problem):
    got = sub.call("run_fit", **problem)
    for name in ("w", "b"):
        tensor = expect_tensor(name, got[name], shape=(1,))
        expect(tensor.requires_grad, f"{name} must have requires_grad=True.", got=tensor)
        expect(tensor.is_leaf, f"{name} must be a leaf tensor, but it was produced by "
               f"{tensor.grad_fn}.", got=tensor, hint=LEAF_HINT)


@check(points=4, examples=30, problem=problems(),
       description="Makes exactly `steps` gradient-descent updates on the mean squared error.",
       hint="Compare your loop with plain gradient descent: loss, backward, update, clear the gradients.",
       error_hints=NONE_GRAD_ERRORS)
def follows_gradient_descent(sub, problem):
    pending = sub.start("run_fit", **problem)
    ref_w, ref_b = gradient_descent(**problem)  # computed while the submission runs
    got = pending.result()
    w, b = expect_tensor("w", got["w"], shape=(1,)), expect_tensor("b", got["b"], shape=(1,))
    if not _matches(w, b, (ref_w, ref_b)):
        raise CheckFailed("After the updates, (w, b) are not where gradient descent leads.",
                          expected=[ref_w, ref_b], got=[w.value, b.value],
                          hint=diagnose(problem, w, b))


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


@check(points=2, description="Reproduces the classic fit: w = 5.109, b = 2.248 after 500 steps at lr 0.01.",
       error_hints=NONE_GRAD_ERRORS)
def reproduces_classic_fit(sub):
    problem = classic_problem()
    got = sub.call("run_fit", **problem)
    w, b = expect_tensor("w", got["w"], shape=(1,)), expect_tensor("b", got["b"], shape=(1,))
    expected = [torch.tensor([5.109]), torch.tensor([2.248])]
    if not all(torch.allclose(got_t.value, exp_t, rtol=0, atol=0.01)
               for got_t, exp_t in zip((w, b), expected)):
        raise CheckFailed("After 500 steps at lr 0.01, (w, b) should be (5.109, 2.248) within 0.01.",
                          expected=expected, got=[w.value, b.value],
                          hint=diagnose(problem, w, b) or "Run the example from the statement and compare.")


@check(points=2, examples=10, problem=problems(min_steps=1, max_steps=5),
       description="Leaves x, y, w0 and b0 unchanged.", hint=INPUTS_HINT,
       error_hints=NONE_GRAD_ERRORS)
def leaves_inputs_unchanged(sub, problem):
    got = sub.call("run_fit", **problem)
    for name in ("x", "y", "w0", "b0"):
        before, after = problem[name], got["inputs_after"][name]
        expect(torch.equal(before, after.value), f"fit changed its input {name}.",
               expected=before, got=after)
