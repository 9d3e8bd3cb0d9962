"""Checks for manual-sgd-step: ``sgd_step(params, lr) -> None``.

Each parameter is drawn as plain data (its values and its gradient, or None) and the driver
builds leaf tensors with ``requires_grad=True`` from them. The reference update is computed
here, in float32, the canonical way: ``p - lr * g``.
"""

import torch
from hypothesis import strategies as st

from grader.checks import CheckFailed, check, expect, expect_close, expect_tensor

REBINDING_HINT = ("`p = p - lr * p.grad` creates a new tensor and rebinds the name p to it, so "
                  "the tensor in the list never changes. Update the tensor itself in place, "
                  "without recording the update in the graph: "
                  "`with torch.no_grad(): p -= lr * p.grad`.")
NO_GRAD_HINT = ("PyTorch refuses an in-place change of a leaf that requires grad while autograd is "
                "recording. Do the update inside `with torch.no_grad():` (or through `p.data`).")
NONE_GRAD_HINT = ("A parameter whose .grad is None took no part in the backward pass: skip it "
                  "with `if p.grad is None: continue` and leave it untouched.")
STORAGE_HINT = ("`p.data = p.data - lr * p.grad` gives p a new block of memory instead of updating "
                "the old one, so anything that shares p's memory (a view, or `p.detach()`) keeps "
                "the old values. Write into the existing memory: `p.data -= lr * p.grad` or "
                "`with torch.no_grad(): p -= lr * p.grad`.")
LEAF_HINT = ("After the update, every parameter must still be a leaf with requires_grad=True: do "
             "not detach it and do not switch requires_grad off, and update it under "
             "torch.no_grad() so that no grad_fn is recorded.")
GRADS_HINT = ("The update reads the gradients but must not change them: do not zero them, set "
              "them to None or scale them in place. Clearing the gradients is the caller's job, "
              "as with optimizer.step() and optimizer.zero_grad().")
LOOP_HINT = ("Every parameter that has a gradient must be updated: check that the loop reaches "
             "all of them (a `return` or `break` inside the loop stops it early).")
RETURN_HINT = "sgd_step works in place, like optimizer.step(): it must return None."

ERROR_HINTS = {"a leaf Variable that requires grad": NO_GRAD_HINT, "NoneType": NONE_GRAD_HINT}

LEARNING_RATES = [0.001, 0.01, 0.1, 0.5, 1.0]


def _tensor(generator, shape, low, high):
    """Uniform float32 values in [low, high], rounded to 3 decimals so that feedback reads well."""
    values = torch.rand(shape, generator=generator) * (high - low) + low
    return torch.round(values, decimals=3)


@st.composite
def problems(draw, missing=False):
    """``values``, ``grads`` (one tensor or None per parameter) and ``lr``.

    ``missing=False``: every parameter has a gradient. ``missing=True``: at least one
    parameter has a gradient and at least one has none. The values are in [-3, 3]; every
    gradient element is in [0.25, 3] in absolute value, so every parameter that has a
    gradient must change. Hypothesis draws the shapes and a seed; torch draws the numbers
    (far cheaper than drawing every element through hypothesis).
    """
    count = draw(st.integers(2 if missing else 1, 4))
    shapes = [tuple(draw(st.lists(st.integers(1, 3), max_size=2))) for _ in range(count)]
    if missing:
        has_grad = draw(st.lists(st.booleans(), min_size=count, max_size=count))
        if all(has_grad):
            has_grad[-1] = False  # at least one parameter without a gradient
        if not any(has_grad):
            has_grad[-1] = True  # at least one parameter with a gradient
    else:
        has_grad = [True] * count
    generator = torch.Generator().manual_seed(draw(st.integers(0, 2**16)))
    values = [_tensor(generator, shape, -3.0, 3.0) for shape in shapes]
    grads = []
    for shape, flag in zip(shapes, has_grad):
        magnitude = _tensor(generator, shape, 0.25, 3.0)
        sign = torch.where(torch.rand(shape, generator=generator) < 0.5, -1.0, 1.0)
        grads.append(magnitude * sign if flag else None)
    return {"values": values, "grads": grads, "lr": draw(st.sampled_from(LEARNING_RATES))}


def reference(problem):
    """The parameters after one step of plain gradient descent (None: left untouched)."""
    return [value if grad is None else value - problem["lr"] * grad
            for value, grad in zip(problem["values"], problem["grads"])]


def _unchanged(got, problem):
    return all(torch.equal(p.value, v) for p, v in zip(got["params"], problem["values"]))


@check(points=3, examples=15, problem=problems(),
       description="Every parameter becomes p - lr * p.grad.", hint=REBINDING_HINT,
       error_hints=ERROR_HINTS)
def updates_every_parameter(sub, problem):
    pending = sub.start("run_sgd_step", **problem, report_grads=False)
    expected = reference(problem)  # computed while the submission runs
    got = pending.result()
    if _unchanged(got, problem):  # every gradient is non-zero, so every parameter should move
        raise CheckFailed("After sgd_step, the tensors in params still hold their old values.",
                          expected=expected, got=[p.value for p in got["params"]], hint=REBINDING_HINT)
    for index, (param, ref, value) in enumerate(zip(got["params"], expected, problem["values"])):
        expect_tensor(f"params[{index}]", param, shape=tuple(ref.shape),
                      hint="The update must keep the shape and the dtype (float32) of every parameter.")
        expect(not torch.equal(param.value, value),
               f"params[{index}] still holds its old values, although other parameters changed.",
               expected=ref, got=param.value, hint=LOOP_HINT)
        expect_close(f"params[{index}] after the step", param, ref, rtol=1e-5, atol=1e-6,
                     hint="Each parameter must move against its gradient by lr times the gradient: "
                          "p - lr * p.grad.")


@check(points=2, examples=12, problem=problems(missing=True),
       description="Parameters whose .grad is None are left untouched, and the call does not fail.",
       hint=NONE_GRAD_HINT, error_hints=ERROR_HINTS)
def skips_parameters_without_grad(sub, problem):
    got = sub.call("run_sgd_step", **problem)
    for index, (param, value, grad) in enumerate(zip(got["params"], problem["values"], problem["grads"])):
        if grad is not None:
            continue
        expect(torch.equal(param.value, value),
               f"params[{index}] has no gradient, but sgd_step changed its values.",
               expected=value, got=param.value)
        expect(param.grad is None,
               f"params[{index}] had .grad None, but after sgd_step its .grad is a tensor.",
               got=param.grad)


@check(points=2, examples=12, problem=problems(),
       description="Updates the tensors themselves in their own memory, keeps them leaves with "
                   "requires_grad=True, and returns None.",
       hint=LEAF_HINT, error_hints=ERROR_HINTS)
def updates_in_place_and_keeps_leaves(sub, problem):
    got = sub.call("run_sgd_step", **problem, report_grads=False)
    if _unchanged(got, problem):  # every gradient is non-zero, so every parameter should move
        raise CheckFailed("No tensor in params changed: the update never reached the tensors "
                          "that sgd_step received.", hint=REBINDING_HINT)
    for index, (param, before) in enumerate(zip(got["params"], got["storage_before"])):
        name = f"params[{index}]"
        expect(param.storage == before,
               f"{name} was given new memory instead of being updated in place.", hint=STORAGE_HINT)
        expect(param.grad_fn is None,
               f"{name} has grad_fn={param.grad_fn}: the update was recorded by autograd.", got=param)
        expect(param.is_leaf, f"{name} is no longer a leaf tensor.", got=param)
        expect(param.requires_grad, f"{name} has requires_grad=False after sgd_step, but it must "
               "stay True.")
    expect(got["returned"] == "NoneType", f"sgd_step returned a {got['returned']} instead of None.",
           hint=RETURN_HINT)


@check(points=1, examples=10, problem=problems(),
       description="Leaves every .grad unchanged.", hint=GRADS_HINT, error_hints=ERROR_HINTS)
def leaves_gradients_unchanged(sub, problem):
    got = sub.call("run_sgd_step", **problem)
    for index, (param, grad) in enumerate(zip(got["params"], problem["grads"])):
        expect(param.grad is not None, f"params[{index}].grad is None after sgd_step.",
               expected=grad)
        expect(torch.equal(param.grad.value, grad), f"sgd_step changed params[{index}].grad.",
               expected=grad, got=param.grad)


WORKED_EXAMPLE = {"values": [torch.tensor(1.0), torch.tensor(2.0)],
                  "grads": [torch.tensor(6.0), torch.tensor(12.0)], "lr": 0.1}


@check(points=1, description="Reproduces the worked example: x = 1, y = 2 become x = 0.4, y = 0.8.",
       hint=REBINDING_HINT, error_hints=ERROR_HINTS)
def reproduces_worked_example(sub):
    got = sub.call("run_sgd_step", **WORKED_EXAMPLE, report_grads=False)
    expected = [torch.tensor(0.4), torch.tensor(0.8)]
    values = [p.value for p in got["params"]]
    if not all(v.shape == e.shape and torch.allclose(v.double(), e.double(), rtol=0, atol=1e-6)
               for v, e in zip(values, expected)):
        raise CheckFailed("With z = 3x² + y³ at x = 1, y = 2 (so x.grad = 6, y.grad = 12) and lr = 0.1, "
                          "sgd_step([x, y], 0.1) should give x = 0.4 and y = 0.8.",
                          expected=expected, got=values,
                          hint=REBINDING_HINT if _unchanged(got, WORKED_EXAMPLE)
                          else "Compute p - lr * p.grad by hand for x and y and compare.")
