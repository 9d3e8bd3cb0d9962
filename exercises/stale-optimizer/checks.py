"""Checks for stale-optimizer: ``train_from_checkpoint(make_model, state_dict, x, y, lr, steps)``.

The model is sent as plain data (layers plus the checkpoint's tensors); the driver hands the
student a ``make_model`` that builds it with fresh random weights. The reference starts from
the checkpoint and runs plain SGD here. Besides the values, the driver reports, for every
optimizer the student created, how many of the tensors it holds are not parameters of the
returned model: the signature of an optimizer built on a model that was replaced afterwards.
"""

import torch
from hypothesis import strategies as st

from grader import specs
from grader.checks import CheckFailed, check, expect
from grader.strategies import architectures, mse_step, random_tensors

STALE_HINT = ("The optimizer keeps references to the parameter tensors it was given; after you "
              "replace the model, it updates the old tensors: create the optimizer from the model "
              "you train and return, after loading the weights.")
LOAD_HINT = ("Load the checkpoint into the model you return: `make_model()` gives random weights, "
             "and `model.load_state_dict(state_dict)` copies the saved values into that same model.")
LOAD_RESULT_HINT = ("load_state_dict loads the weights in place and returns a report of missing and "
                    "unexpected keys: call `model.load_state_dict(state_dict)` without assigning its result.")
TRAJECTORY_HINT = ("Starting from the checkpoint, make exactly `steps` plain SGD steps (no momentum) "
                   "on `F.mse_loss(model(x), y)` over the whole batch, clearing the gradients at every step.")
MOMENTUM_HINT = ("Your parameters match SGD with momentum: the contract asks for plain SGD, "
                 "`torch.optim.SGD(model.parameters(), lr=lr)` with the default momentum of 0.")
UNCHANGED_HINT = ("No update reached the model you return: the optimizer, or your own update, must "
                  "work on the parameters of that very model, once per step.")
OFF_BY_ONE_HINT = "Your parameters match one step too few or too many: make exactly `steps` steps."
ALIASING_HINT = ("The checkpoint's tensors changed: `load_state_dict(state_dict, assign=True)` (or "
                 "wrapping the checkpoint's tensors in nn.Parameter yourself) makes the model train "
                 "the caller's tensors in place. Plain `load_state_dict(state_dict)` copies the values.")
ERRORS = {"_IncompatibleKeys": LOAD_RESULT_HINT}


@st.composite
def runs(draw, steps=(1, 8)):
    """A model spec with the checkpoint's parameters, one full batch, a learning rate and steps."""
    layers = draw(architectures())
    seed = draw(st.integers(0, 2**16))
    params = random_tensors(seed, specs.parameter_shapes(layers), scale=0.5)
    n = draw(st.integers(1, 6))
    x, y = random_tensors(seed + 1, [(n, layers[0][1]), (n, layers[-1][2])])
    return {"layers": layers, "params": params, "x": x, "y": y,
            "lr": draw(st.sampled_from([0.01, 0.1, 0.3])), "steps": draw(st.integers(*steps))}


def reference(run, *, steps=None, momentum=0.0):
    """The parameters after plain SGD from the checkpoint (or after a usual mistake)."""
    model = specs.model_from_spec(run)
    optimizer = torch.optim.SGD(model.parameters(), lr=run["lr"], momentum=momentum)
    for _ in range(run["steps"] if steps is None else steps):
        mse_step(model, optimizer, run["x"], run["y"])
    return [p.detach().clone() for p in model.parameters()]


def _values(got):
    return [p.value for p in got["params"]]


def _all_close(got, expected):
    return len(got) == len(expected) and all(
        g.shape == e.shape and bool(torch.allclose(g, e, rtol=1e-4, atol=1e-5))
        for g, e in zip(got, expected))


def _all_equal(got, expected):
    return len(got) == len(expected) and all(
        g.shape == e.shape and torch.equal(g, e) for g, e in zip(got, expected))


def _expect_parameter_count(got, run):
    expected = len(run["params"])
    expect(len(got) == expected, f"The returned model has {len(got)} parameters, but the model "
           f"that make_model() builds has {expected}.", expected=expected, got=len(got))


def diagnose(run, got):
    """Name the misconception whose parameters the answer holds, if any."""
    candidates = [(MOMENTUM_HINT, dict(momentum=0.9)), (MOMENTUM_HINT, dict(momentum=0.5)),
                  (OFF_BY_ONE_HINT, dict(steps=run["steps"] - 1)),
                  (OFF_BY_ONE_HINT, dict(steps=run["steps"] + 1))]
    for hint, options in candidates:
        if _all_close(got, reference(run, **options)):
            return hint
    return None


@check(points=2, examples=10, run=runs(steps=(0, 0)),
       description="With steps = 0, the returned model holds exactly the checkpoint's values.",
       hint=LOAD_HINT, error_hints=ERRORS)
def returns_the_loaded_model_when_steps_is_zero(sub, run):
    got = _values(sub.call("run_train", **run))
    _expect_parameter_count(got, run)
    for number, (g, expected) in enumerate(zip(got, run["params"])):
        expect(g.shape == expected.shape and torch.equal(g, expected),
               f"With steps = 0, parameter {number} of the returned model is not the checkpoint's value.",
               expected=expected, got=g)


@check(points=4, examples=20, run=runs(),
       description="After `steps` plain SGD steps, the returned model's parameters equal the reference.",
       hint=TRAJECTORY_HINT, error_hints=ERRORS)
def parameters_follow_reference_trajectory(sub, run):
    pending = sub.start("run_train", **run)
    expected = reference(run)  # computed while the submission runs
    report = pending.result()
    got = _values(report)
    _expect_parameter_count(got, run)
    if _all_equal(got, run["params"]) and not _all_equal(expected, run["params"]):
        stale = any(optimizer["foreign"] for optimizer in report["optimizers"])
        raise CheckFailed(f"After {run['steps']} step(s), the returned model still holds exactly the "
                          "checkpoint's values: training changed nothing in the model you return.",
                          expected=expected, got=got,
                          hint=STALE_HINT if stale else diagnose(run, got) or UNCHANGED_HINT)
    for number, (g, e) in enumerate(zip(got, expected)):
        if g.shape != e.shape or not torch.allclose(g, e, rtol=1e-4, atol=1e-5):
            raise CheckFailed(f"After {run['steps']} step(s), parameter {number} of the returned model "
                              "is not where plain SGD from the checkpoint leads.",
                              expected=e, got=g, hint=diagnose(run, got))


@check(points=2, examples=5, run=runs(steps=(1, 3)),
       description="Every optimizer you create holds only parameters of the model you return.",
       hint=STALE_HINT, error_hints=ERRORS)
def optimizer_holds_the_models_parameters(sub, run):
    got = sub.call("run_train", **run)
    for number, optimizer in enumerate(got["optimizers"], start=1):
        expect(optimizer["foreign"] == 0,
               f"Optimizer {number} that you created ({optimizer['type']}) holds {optimizer['held']} "
               f"tensor(s), and {optimizer['foreign']} of them are not parameters of the model you return.",
               expected=0, got=optimizer["foreign"])


@check(points=2, examples=5, run=runs(steps=(1, 3)),
       description="The tensors of state_dict hold the same values after the call.",
       hint=ALIASING_HINT, error_hints=ERRORS)
def leaves_state_dict_unchanged(sub, run):
    got = sub.call("run_train", **run, inputs_after=True)
    for number, (before, after) in enumerate(zip(run["params"], got["state_dict_after"])):
        expect(torch.equal(before, after.value),
               f"train_from_checkpoint changed the values of tensor {number} of state_dict.",
               expected=before, got=after)
