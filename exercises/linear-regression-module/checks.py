"""Checks for linear-regression-module: ``LinearRegressionModel(input_dim, output_dim)`` and
``fit(model, x, y, lr, epochs) -> list[float]``.

The driver writes given values into the student's model (into its first parameter of shape
(out, in) for the weight and its first parameter of shape (out,) for the bias), so the trusted
side knows the exact starting point and computes every reference itself. Besides the correct run, the checks
compute the runs of the usual mistakes, so that feedback can name the misconception.
"""

import torch
from hypothesis import strategies as st

from grader.checks import CheckFailed, check, expect, expect_close, expect_tensor
from grader.sandbox.client import ContractViolation

LEGACY_HINT = ("`loss.data[0]` indexes a 0-dim tensor: since PyTorch 0.4 a loss is a scalar tensor, "
               "so read its value with `loss.item()`. `Variable` is no longer needed, and "
               "`size_average=False` is now `reduction='sum'`.")
LEGACY_ERRORS = {"invalid index of a 0-dim tensor": LEGACY_HINT}
AFFINE_HINT = ("forward(x) must return `x @ weight.T + bias` for a batch x of shape (N, input_dim): "
               "a single `nn.Linear(input_dim, output_dim)` does exactly that.")
PARAMETERS_HINT = ("The model must own exactly two parameters, a weight of shape (output_dim, input_dim) "
                   "and a bias of shape (output_dim,), and nothing else: every nn.Parameter and every "
                   "submodule you assign in __init__ is registered, even if forward never uses it.")
FLOAT_HINT = ("Append `loss.item()` (or `float(loss)`): `loss.data` and `loss` are 0-dim tensors, "
              "not Python floats, and `loss` even keeps the whole graph of its step alive.")
MEAN_HINT = ("Your losses match the mean squared error: the tutorial's `size_average=False` means "
             "the summed error, `nn.MSELoss(reduction='sum')`, not the default mean.")
AFTER_HINT = ("Your losses are the ones measured after each update: record the loss computed for "
              "the step, before optimizer.step() changes the parameters.")
ACCUMULATION_HINT = ("Your run matches SGD whose gradients pile up: backward() adds to .grad, so "
                     "call optimizer.zero_grad() once per epoch.")
FIT_HINT = ("Each epoch makes one SGD step on the summed squared error of the whole (x, y): clear "
            "the gradients, compute the loss, record `loss.item()`, call backward() and step().")
CONVERGENCE_HINT = ("300 epochs of SGD at lr 0.03 on the summed squared error fit y = 2x almost "
                    "exactly: check the reduction (a sum, not a mean) and that every epoch makes one step.")
WARNING_HINT = ("Replace the legacy arguments: `nn.MSELoss(size_average=False)` is "
                "`nn.MSELoss(reduction='sum')` today, and `Variable(...)` wrappers can simply be removed.")
OTHER_WARNING_HINT = ("The warning names a legacy API: replace it by the current equivalent that the "
                      "warning suggests.")

CLASSIC = {
    "x": torch.tensor([[1.0], [2.0], [3.0]]),
    "y": torch.tensor([[2.0], [4.0], [6.0]]),
    "x_new": torch.tensor([[4.0]]),
    "lr": 0.03,
}
DEPRECATION_CATEGORIES = {"DeprecationWarning", "PendingDeprecationWarning", "FutureWarning"}


def _uniform(generator, shape, low, high):
    return torch.rand(shape, generator=generator) * (high - low) + low


@st.composite
def dimensions(draw):
    return {"input_dim": draw(st.integers(1, 4)), "output_dim": draw(st.integers(1, 3))}


@st.composite
def forward_problems(draw):
    """Dimensions, a weight and bias to load, and a batch x; values drawn from a seeded generator."""
    dims = draw(dimensions())
    n, i, o = draw(st.integers(1, 6)), dims["input_dim"], dims["output_dim"]
    generator = torch.Generator().manual_seed(draw(st.integers(0, 2**16)))
    return {**dims, "weight": _uniform(generator, (o, i), -2, 2), "bias": _uniform(generator, (o,), -2, 2),
            "x": _uniform(generator, (n, i), -2, 2)}


@st.composite
def fit_problems(draw, max_epochs=10, loaded=True):
    """Dimensions, a batch (x, y), lr and epochs, and (if loaded) the weight and bias to start from."""
    dims = draw(dimensions())
    n, i, o = draw(st.integers(1, 6)), dims["input_dim"], dims["output_dim"]
    generator = torch.Generator().manual_seed(draw(st.integers(0, 2**16)))
    problem = {**dims, "x": _uniform(generator, (n, i), -1, 1), "y": _uniform(generator, (n, o), -2, 2),
               "lr": draw(st.sampled_from([0.001, 0.005, 0.01])),
               "epochs": draw(st.integers(1, max_epochs))}
    if loaded:
        problem.update(weight=_uniform(generator, (o, i), -1, 1), bias=_uniform(generator, (o,), -1, 1))
    return problem


def reference_fit(problem, *, reduce="sum", accumulate=False, record="before"):
    """Full-batch SGD; with the keyword options, the usual mistakes. Returns (losses, W, b)."""
    x, y = problem["x"], problem["y"]
    weight = problem["weight"].clone().requires_grad_()
    bias = problem["bias"].clone().requires_grad_()
    optimizer = torch.optim.SGD([weight, bias], lr=problem["lr"])

    def loss_of(kind):
        squares = (x @ weight.T + bias - y) ** 2
        return squares.sum() if kind == "sum" else squares.mean()

    losses = []
    for _ in range(problem["epochs"]):
        if not accumulate:
            optimizer.zero_grad()
        loss = loss_of(reduce)
        if record == "before":
            losses.append(loss.item())
        loss.backward()
        optimizer.step()
        if record == "after":
            with torch.no_grad():
                losses.append(loss_of(reduce).item())
    return losses, weight.detach(), bias.detach()


def _answer(pending):
    """The driver's report; a model it cannot load the weight and bias into gets the parameters hint."""
    try:
        return pending.result()
    except ContractViolation as exc:
        if "to hold the" not in str(exc):
            raise
        raise CheckFailed(f"{str(exc).rstrip('.')}.", hint=PARAMETERS_HINT) from None


def _close(got, expected):
    return got.shape == expected.shape and bool(torch.allclose(got.double(), expected.double(),
                                                               rtol=1e-4, atol=1e-5))


def diagnose(problem, got):
    """Name the misconception whose run the answer follows, if any."""
    got_losses = torch.tensor(got["losses"])
    for hint, options in ((MEAN_HINT, dict(reduce="mean")), (AFTER_HINT, dict(record="after")),
                          (ACCUMULATION_HINT, dict(accumulate=True))):
        losses, weight, bias = reference_fit(problem, **options)
        if (_close(got_losses, torch.tensor(losses)) and _close(got["weight"].value, weight)
                and _close(got["bias"].value, bias)):
            return hint
    return None


@check(points=2, examples=15, problem=forward_problems(),
       description="forward(x) equals x @ weight.T + bias for any input_dim and output_dim.",
       hint=AFFINE_HINT)
def forward_is_affine(sub, problem):
    pending = sub.start("run_forward", **problem)
    expected = problem["x"] @ problem["weight"].T + problem["bias"]
    got = expect_tensor("The output of forward", _answer(pending), shape=tuple(expected.shape))
    expect_close("The output of forward", got, expected, rtol=1e-4, atol=1e-5)


@check(points=1, examples=6, dims=dimensions(),
       description="The model's parameters are exactly one weight (out, in) and one bias (out,).",
       hint=PARAMETERS_HINT)
def has_exactly_weight_and_bias(sub, dims):
    got = sub.call("run_parameters", **dims)
    i, o = dims["input_dim"], dims["output_dim"]
    shapes = sorted((tuple(p["shape"]) for p in got), key=len, reverse=True)
    listed = ", ".join(f"{p['name']} {tuple(p['shape'])}" for p in got) or "none"
    expect(shapes == [(o, i), (o,)],
           f"LinearRegressionModel({i}, {o}) must have exactly two parameters, of shapes {(o, i)} "
           f"and {(o,)}; its parameters are: {listed}.",
           expected=[(o, i), (o,)], got=[tuple(p["shape"]) for p in got])


@check(points=1, examples=5, problem=fit_problems(max_epochs=4, loaded=False),
       description="fit returns a list with one Python float per epoch.",
       hint=FLOAT_HINT, error_hints=LEGACY_ERRORS)
def returns_python_floats(sub, problem):
    got = sub.call("run_fit_types", **problem)
    expect(got["container"] == "list", f"fit must return a list, not a {got['container']}.")
    expect(len(got["types"]) == problem["epochs"],
           f"fit returned {len(got['types'])} losses for {problem['epochs']} epoch(s).",
           expected=problem["epochs"], got=len(got["types"]))
    for index, (is_float, kind) in enumerate(zip(got["is_float"], got["types"])):
        expect(is_float, f"Loss {index} is a {kind}, not a Python float.")


@check(points=3, examples=20, problem=fit_problems(),
       description="The losses and the final weight and bias equal those of full-batch SGD on the summed squared error.",
       hint=FIT_HINT, error_hints=LEGACY_ERRORS)
def fit_matches_reference(sub, problem):
    pending = sub.start("run_fit", **problem)
    losses, weight, bias = reference_fit(problem)  # computed while the submission runs
    got = _answer(pending)
    expect(len(got["losses"]) == len(losses),
           f"fit returned {len(got['losses'])} losses for {problem['epochs']} epoch(s).",
           expected=len(losses), got=len(got["losses"]),
           hint="Make exactly one step per epoch and record one loss per step.")
    for what, got_value, expected in (("The list of losses", torch.tensor(got["losses"]), torch.tensor(losses)),
                                      ("The weight after training", got["weight"], weight),
                                      ("The bias after training", got["bias"], bias)):
        try:
            expect_close(what, got_value, expected, rtol=1e-4, atol=1e-5)
        except CheckFailed as failure:
            failure.hint = diagnose(problem, got)
            raise


@check(points=2, description="After fit(lr=0.03, epochs=300) on y = 2x for x = 1, 2, 3, the prediction at x = 4 is 8 within 0.1.",
       hint=CONVERGENCE_HINT, error_hints=LEGACY_ERRORS)
def predicts_eight_at_four(sub):
    got = sub.call("run_classic", **CLASSIC, epochs=300)
    prediction = got["prediction"].value
    expect(prediction.numel() == 1, "model(torch.tensor([[4.0]])) must hold a single number.",
           got=got["prediction"])
    value = float(prediction.reshape(()).double())
    expect(abs(value - 8.0) <= 0.1, "After training on y = 2x, the prediction at x = 4 is not 8.",
           expected=8.0, got=value)


def _is_deprecation(warning):
    message = warning["message"].lower()
    return (warning["category"] in DEPRECATION_CATEGORIES or "deprecat" in message
            or "removed" in message)


@check(points=1, description="Constructing the model, fitting it and predicting raise no deprecation warning.",
       hint=WARNING_HINT, error_hints=LEGACY_ERRORS)
def raises_no_deprecation_warnings(sub):
    got = sub.call("run_classic", **CLASSIC, epochs=3)
    legacy = [w for w in got["warnings"] if _is_deprecation(w)]
    if legacy:
        first = legacy[0]
        legacy_loss = any(word in first["message"] for word in ("size_average", "reduce"))
        raise CheckFailed(f"Your code raised {len(legacy)} deprecation warning(s), the first one being "
                          f"{first['category']}: {first['message']}",
                          hint=WARNING_HINT if legacy_loss else OTHER_WARNING_HINT)
