"""Checks for non-leaf-grad: ``input_and_hidden_grads(x, w) -> (grad_x, grad_h)`` for
``h = torch.tanh(x @ w)`` and ``z = (h ** 2).sum()``.

The reference gradients are computed here with autograd in float32. Besides the correct
gradients the checks compute those of the usual mistakes, so that feedback can name the
misconception instead of only saying "wrong".
"""

import torch
from hypothesis import strategies as st

from grader.checks import CheckFailed, check, expect, expect_close, expect_tensor

NON_LEAF_HINT = ("Only leaf tensors get their .grad filled by backward(). h = torch.tanh(x @ w) is "
                 "an intermediate result, not a leaf, so h.grad is None unless you call "
                 "h.retain_grad() before backward() (or use torch.autograd.grad(z, [x, h])).")
X_NONE_HINT = ("grad_x is None: backward() fills x.grad only when x is a leaf that requires grad "
               "and z was computed from it. Make x require grad before computing h, and do not "
               "detach anything between x and z.")
FACTOR_TWO_HINT = ("Your gradient is half the expected one: the derivative of h ** 2 with respect "
                   "to h is 2 * h, not h.")
SUM_OF_H_HINT = ("Your gradients are those of h.sum(), not of z = (h ** 2).sum(): start the "
                 "backward pass from z.")
TANH_HINT = ("Your grad_x matches the derivative 1 - tanh(u) instead of 1 - tanh(u) ** 2: the "
             "derivative of tanh(u) is 1 - tanh(u) ** 2 = 1 - h ** 2.")
TWICE_HINT = ("Your grad_x is twice the expected one: backward() adds to .grad, so calling it "
              "twice (or reusing a gradient left by an earlier call) doubles the result.")
TRANSPOSE_HINT = ("dz/dx has the shape of x, (B, n): it is (dz/du) @ w.T where u = x @ w, "
                  "not a product in the other order.")
REPEAT_HINT = ("The first call left something behind that changes the second call. If you call "
               "x.requires_grad_() on the caller's x, backward() keeps adding into the same "
               "x.grad at every call, and an in-place operation such as w.t_() changes w itself. "
               "Work on a copy (`x.detach().clone().requires_grad_()`) or use "
               "torch.autograd.grad, which does not touch .grad.")
SHAPE_HINTS = {"grad_x": TRANSPOSE_HINT,
               "grad_h": "grad_h has the shape of h = torch.tanh(x @ w), which is (B, m)."}
DTYPE_HINT = ("The inputs are float32, so the gradients are float32 too: if you compute in "
              "float64, convert the results back with .float().")
INPUTS_HINT = ("input_and_hidden_grads must not change x or w: avoid in-place operations on "
               "them (for example w.t_() instead of w.t(), or x.add_()).")

NO_REQUIRES_GRAD_HINT = ("x and w arrive with requires_grad=False, so autograd records nothing "
                         "unless you make x require grad before computing h: "
                         "`x = x.detach().clone().requires_grad_()`.")

ERROR_HINTS = {"does not require grad and does not have a grad_fn": NO_REQUIRES_GRAD_HINT,
               "retain_grad on Tensor that has requires_grad=False": NO_REQUIRES_GRAD_HINT}


def _tensor(generator, shape, scale):
    """Normal values rounded to 3 decimals, so that feedback reads well."""
    return torch.round(torch.randn(shape, generator=generator) * scale, decimals=3)


@st.composite
def problems(draw):
    """x of shape (B, n) and w of shape (n, m), with x @ w of order 1 so tanh is not saturated."""
    batch, n, m = draw(st.integers(1, 5)), draw(st.integers(1, 5)), draw(st.integers(1, 5))
    generator = torch.Generator().manual_seed(draw(st.integers(0, 2**16)))
    return {"x": _tensor(generator, (batch, n), 1.0),
            "w": _tensor(generator, (n, m), 1.0 / n ** 0.5)}


def reference(x, w):
    """(dz/dx, dz/dh) with autograd, in float32."""
    x = x.clone().requires_grad_()
    h = torch.tanh(x @ w)
    grad_x, grad_h = torch.autograd.grad((h ** 2).sum(), [x, h])
    return grad_x, grad_h


def _close(got, expected):
    return got.shape == expected.shape and bool(
        torch.allclose(got.double(), expected.double(), rtol=1e-4, atol=1e-5))


def diagnose_hidden(x, w, got):
    h = torch.tanh(x @ w)
    for hint, wrong in ((FACTOR_TWO_HINT, h), (SUM_OF_H_HINT, torch.ones_like(h))):
        if _close(got, wrong):
            return hint
    return None


def diagnose_input(x, w, got):
    h = torch.tanh(x @ w)
    candidates = [
        (TWICE_HINT, (4 * h * (1 - h ** 2)) @ w.T),
        (FACTOR_TWO_HINT, (h * (1 - h ** 2)) @ w.T),
        (TANH_HINT, (2 * h * (1 - h)) @ w.T),
        (SUM_OF_H_HINT, (1 - h ** 2) @ w.T),
        (TRANSPOSE_HINT, w @ (2 * h * (1 - h ** 2)).T),
    ]
    for hint, wrong in candidates:
        if _close(got, wrong):
            return hint
    return None


def _shapes(problem):
    batch, n = problem["x"].shape
    return {"grad_x": (batch, n), "grad_h": (batch, problem["w"].shape[1])}


@check(points=2, examples=12, problem=problems(),
       description="Returns a pair of float32 tensors, of shapes (B, n) and (B, m).",
       hint=NON_LEAF_HINT, error_hints=ERROR_HINTS)
def returns_two_tensors_of_the_right_shapes(sub, problem):
    answer = sub.call("run_grads", **problem)["answers"][0]
    for name, shape in _shapes(problem).items():
        if answer[name] is None:
            raise CheckFailed(f"{name} is None instead of a tensor of shape {shape}.",
                              hint=NON_LEAF_HINT if name == "grad_h" else X_NONE_HINT)
        got = expect_tensor(name, answer[name], shape=shape, dtype=None, hint=SHAPE_HINTS[name])
        expect(got.dtype == torch.float32, f"{name} has dtype {got.dtype} instead of torch.float32.",
               hint=DTYPE_HINT)


@check(points=3, examples=15, problem=problems(),
       description="grad_h equals dz/dh = 2 * h.", hint=NON_LEAF_HINT, error_hints=ERROR_HINTS)
def hidden_gradient_is_correct(sub, problem):
    pending = sub.start("run_grads", **problem)
    _, expected = reference(problem["x"], problem["w"])  # computed while the submission runs
    got = pending.result()["answers"][0]["grad_h"]
    if got is None:
        raise CheckFailed("grad_h is None. Reading h.grad after backward() gives None, because h "
                          "is not a leaf tensor and backward() does not fill its .grad.", expected=expected,
                          hint=NON_LEAF_HINT)
    expect_close("grad_h", got, expected, rtol=1e-4, atol=1e-5,
                 hint=diagnose_hidden(problem["x"], problem["w"], got.value)
                 or "dz/dh is the derivative of (h ** 2).sum() with respect to h: 2 * h.")


@check(points=3, examples=15, problem=problems(),
       description="grad_x equals dz/dx = (2 * h * (1 - h ** 2)) @ w.T.",
       hint="Compare with the chain rule: dz/dx = (2 * h * (1 - h ** 2)) @ w.T.",
       error_hints=ERROR_HINTS)
def input_gradient_is_correct(sub, problem):
    pending = sub.start("run_grads", **problem)
    expected, _ = reference(problem["x"], problem["w"])  # computed while the submission runs
    got = pending.result()["answers"][0]["grad_x"]
    if got is None:
        raise CheckFailed("grad_x is None.", expected=expected, hint=X_NONE_HINT)
    expect_close("grad_x", got, expected, rtol=1e-4, atol=1e-5,
                 hint=diagnose_input(problem["x"], problem["w"], got.value)
                 or "Compare with the chain rule: dz/dx = (2 * h * (1 - h ** 2)) @ w.T.")


@check(points=1, examples=10, problem=problems(),
       description="Leaves the values of x and w unchanged.", hint=INPUTS_HINT,
       error_hints=ERROR_HINTS)
def leaves_inputs_unchanged(sub, problem):
    got = sub.call("run_grads", **problem)
    for name in ("x", "w"):
        before, after = problem[name], got[f"{name}_after"]
        expect(after.shape == before.shape and torch.equal(after.value, before),
               f"input_and_hidden_grads changed its input {name}.", expected=before, got=after)


@check(points=1, examples=10, problem=problems(),
       description="Two calls in a row with the same x and w return the same gradients.",
       hint=REPEAT_HINT, error_hints=ERROR_HINTS)
def repeated_calls_agree(sub, problem):
    first, second = sub.call("run_grads", **problem, calls=2)["answers"]
    for name in ("grad_x", "grad_h"):
        a, b = first[name], second[name]
        if a is None and b is None:
            continue  # consistently missing: returns_two_tensors_of_the_right_shapes says so
        same = (a is not None and b is not None and a.shape == b.shape
                and bool(torch.allclose(a.value.double(), b.value.double(), rtol=1e-5, atol=1e-6)))
        expect(same, f"The second call returned a different {name} than the first call.",
               expected=a, got=b)
