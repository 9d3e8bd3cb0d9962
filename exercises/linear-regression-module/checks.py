"""Checks for linear-regression-module: ``LinearRegressionModel(input_dim, output_dim)`` and
``fit(model, x, y, lr, epochs) -> list[float]``.

The driver writes given values into the student's model (into its first parameter of shape
(out, in) for the weight and its first parameter of shape (out,) for the bias), so the trusted
side knows the exact starting point and computes every reference itself (:mod:`.reference`).
``fit`` is called up to three times on the same model, each time with another learning rate.

Three contract properties are invariants, checked on every reply of every check: exactly a
weight and a bias are registered, ``fit`` returns a list of ``epochs`` Python floats, and no
deprecation warning is raised. Every driver function reports what they need.
"""

import torch
from hypothesis import strategies as st

from grader.checks import CheckFailed, check, expect, expect_close, expect_tensor, invariant
from grader.i18n.text import N_, T, TN
from grader.sandbox.client import ContractViolation

from .hints import (AFFINE_HINT, CONVERGENCE_HINT, FIT_HINT, FLOAT_HINT, HISTORY_HINT, LEGACY_ERRORS,
                    OTHER_WARNING_HINT, PARAMETERS_HINT, WARNING_HINT)
from .problems import (CLASSIC, boundary_fits, dimensions, fit_problems, fit_types_problems,
                       forward_problems)
from .reference import diagnose, reference_fits

DEPRECATION_CATEGORIES = {"DeprecationWarning", "PendingDeprecationWarning", "FutureWarning"}
ALL_CALLS = ("run_parameters", "run_forward", "run_fit_types", "run_fit", "run_classic")


def _answer(pending):
    """The driver's report; a model it cannot load the weight and bias into gets the parameters hint."""
    try:
        return pending.result()
    except ContractViolation as exc:
        if "to hold the" not in str(exc):
            raise
        # The driver's own, complete sentence (rendered from its template), as the runner shows it.
        sentence = str(exc).rstrip(".") + "."
        raise CheckFailed(sentence, hint=PARAMETERS_HINT) from None


def _which(index, args):
    """"in the second call of fit" when a reply holds several fits, else None."""
    if len(args.get("fits", ())) < 2:
        return None
    if index == 0:
        return T("in the first call of fit")
    if index == 1:
        return T("in the second call of fit")
    if index == 2:
        return T("in the third call of fit")
    return T("in the {number}th call of fit", number=index + 1)


@check(points=2, examples=10, problem=forward_problems(),
       explicit=[{"problem": {"input_dim": 1, "output_dim": 1, "weight": torch.tensor([[1.5]]),
                              "bias": torch.tensor([-0.5]), "x": torch.tensor([[2.0]])}}],
       description=N_("forward(x) equals x @ weight.T + bias for any input_dim, output_dim and batch "
                      "(1 to 64 rows)."),
       hint=AFFINE_HINT)
def forward_is_affine(sub, problem):
    pending = sub.start("run_forward", **problem)
    expected = problem["x"] @ problem["weight"].T + problem["bias"]
    what = T("The output of forward")
    got = expect_tensor(what, _answer(pending)["output"], shape=tuple(expected.shape))
    expect_close(what, got, expected, rtol=1e-4, atol=1e-5)


@invariant(points=1, calls=ALL_CALLS, probe=dimensions(), examples=3,
           explicit=[{"input_dim": 3, "output_dim": 2}],
           description=N_("The model's parameters are exactly one weight (out, in) and one bias (out,), "
                          "on every call."),
           hint=PARAMETERS_HINT)
def has_exactly_weight_and_bias(args, reply):
    i, o = args.get("input_dim", 1), args.get("output_dim", 1)
    got = reply["parameters"]
    shapes = sorted((tuple(p["shape"]) for p in got), key=len, reverse=True)
    listed = ", ".join(f"{p['name']} {tuple(p['shape'])}" for p in got)
    shown = {"input_dim": i, "output_dim": o, "weight_shape": (o, i), "bias_shape": (o,)}
    expect(shapes == [(o, i), (o,)],
           T("LinearRegressionModel({input_dim}, {output_dim}) must have exactly two parameters, of "
             "shapes {weight_shape} and {bias_shape}; its parameters are: {listed}.", listed=listed,
             **shown) if listed else
           T("LinearRegressionModel({input_dim}, {output_dim}) must have exactly two parameters, of "
             "shapes {weight_shape} and {bias_shape}; its parameters are: none.", **shown),
           expected=[(o, i), (o,)], got=[tuple(p["shape"]) for p in got])


def _returned_in(args, reply):
    """``(where, epochs, returned)`` for every fit a reply describes."""
    if "fits" in args:
        return [(_which(k, args), call["epochs"], fit["returned"])
                for k, (call, fit) in enumerate(zip(args["fits"], reply["fits"]))]
    return [(None, args["epochs"], reply["returned"])]


@invariant(points=1, calls=("run_fit_types", "run_fit", "run_classic"), probe=fit_types_problems(),
           examples=3, explicit=[{"input_dim": 1, "output_dim": 1, "x": torch.tensor([[1.5]]),
                                  "y": torch.tensor([[-1.0]]), "lr": 0.05, "epochs": 1}],
           description=N_("fit returns a list with one Python float per epoch, on every call (a second "
                          "call on the same model included)."),
           hint=FLOAT_HINT, error_hints=LEGACY_ERRORS)
def returns_python_floats(args, reply):
    for where, epochs, returned in _returned_in(args, reply):
        container = returned["container"]
        expect(container == "list",
               T("fit must return a list, not a {container}.", container=container) if where is None else
               T("fit must return a list, not a {container} {where}.", container=container, where=where))
        expect(returned["count"] == epochs, _count_message(returned["count"], epochs, where),
               expected=epochs, got=returned["count"], hint=HISTORY_HINT if where else FLOAT_HINT)
        for index, (is_float, kind) in enumerate(zip(returned["is_float"], returned["types"])):
            expect(is_float is True,
                   T("Loss {index} is a {type}, not a Python float.", index=index, type=kind)
                   if where is None else
                   T("Loss {index} is a {type}, not a Python float {where}.", index=index, type=kind,
                     where=where))


def _count_message(count, epochs, where):
    """The count sentence, e.g. "fit returned 3 losses for 2 epochs in the second call of fit."."""
    losses = TN("{n} loss", "{n} losses", count)
    if where is None:
        return TN("fit returned {losses} for {n} epoch.", "fit returned {losses} for {n} epochs.",
                  epochs, losses=losses)
    return TN("fit returned {losses} for {n} epoch {where}.", "fit returned {losses} for {n} epochs {where}.",
              epochs, losses=losses, where=where)


@check(points=3, examples=14, problem=fit_problems(),
       explicit=[{"problem": boundary} for boundary in boundary_fits()],
       description=N_("The losses and the final weight and bias equal those of full-batch SGD on the "
                      "summed squared error, also when fit is called again on the same model with "
                      "another learning rate."),
       hint=FIT_HINT, error_hints=LEGACY_ERRORS, graph=True)
def fit_matches_reference(sub, problem):
    pending = sub.start("run_fit", **problem)
    expected = reference_fits(problem)  # computed while the submission runs
    got = _answer(pending)
    for index, (call, fit, (losses, weight, bias)) in enumerate(zip(problem["fits"], got["fits"], expected)):
        where = _which(index, problem)
        expect(len(fit["losses"]) == len(losses), _count_message(len(fit["losses"]), call["epochs"], where),
               expected=len(losses), got=len(fit["losses"]),
               hint=HISTORY_HINT if index else N_("Make exactly one step per epoch and record one loss "
                                                  "per step."))
        if where is None:
            labels = (T("The list of losses"), T("The weight after training"), T("The bias after training"))
        else:
            labels = (T("The list of losses {where}", where=where),
                      T("The weight after training {where}", where=where),
                      T("The bias after training {where}", where=where))
        for what, got_value, value in zip(labels, (torch.tensor(fit["losses"]), fit["weight"], fit["bias"]),
                                          (losses, weight, bias)):
            try:
                expect_close(what, got_value, value, rtol=1e-4, atol=1e-5)
            except CheckFailed as failure:
                failure.hint = diagnose(problem, got, index) or FIT_HINT
                raise


@check(points=2, description=N_("After fit(lr=0.03, epochs=300) on y = 2x for x = 1, 2, 3, the prediction at "
                                "x = 4 is 8 within 0.1."),
       hint=CONVERGENCE_HINT, error_hints=LEGACY_ERRORS)
def predicts_eight_at_four(sub):
    got = sub.call("run_classic", **CLASSIC, epochs=300)
    prediction = got["prediction"].value
    expect(prediction.numel() == 1, N_("model(torch.tensor([[4.0]])) must hold a single number."),
           got=got["prediction"])
    value = float(prediction.reshape(()).double())
    expect(abs(value - 8.0) <= 0.1, N_("After training on y = 2x, the prediction at x = 4 is not 8."),
           expected=8.0, got=value)


def _is_deprecation(warning):
    message = warning["message"].lower()
    return (warning["category"] in DEPRECATION_CATEGORIES or "deprecat" in message
            or "removed" in message)


@invariant(points=1, calls=("run_classic", "run_parameters", "run_forward", "run_fit_types", "run_fit"),
           probe=st.just({**CLASSIC, "epochs": 3}), examples=1,
           description=N_("Constructing the model, calling forward and fit raise no deprecation warning, "
                          "on every call."),
           hint=WARNING_HINT, error_hints=LEGACY_ERRORS)
def raises_no_deprecation_warnings(args, reply):
    legacy = [w for w in reply["warnings"] if _is_deprecation(w)]
    if legacy:
        first = legacy[0]
        legacy_loss = any(word in first["message"] for word in ("size_average", "reduce"))
        raise CheckFailed(TN("Your code raised {n} deprecation warning, the first one being "
                             "{category}: {message}",
                             "Your code raised {n} deprecation warnings, the first one being "
                             "{category}: {message}", len(legacy), category=first["category"],
                             message=first["message"]),
                          hint=WARNING_HINT if legacy_loss else OTHER_WARNING_HINT)
