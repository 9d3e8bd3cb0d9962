"""What an exercise's ``checks.py`` is written with: the ``@check`` decorator and assertions.

A check is a property of the student's code, run in the trusted process. Its function
receives a ``sub`` handle plus values drawn by hypothesis from the strategies given to
``@check``; ``sub.call("run_<name>", **args)`` asks the exercise driver, inside the
sandbox, to run the student's code on those arguments and returns what it reported
(tensors arrive as :class:`grader.sandbox.wire.WireTensor`). The check computes its own reference
with real torch in this process and raises :class:`CheckFailed` when the answer is wrong.

    @check(points=4, description="...", hint="...", examples=25, problem=problems())
    def follows_gradient_descent(sub, problem):
        pending = sub.start("run_fit", **problem)  # the student's code runs in the sandbox ...
        expected = reference(problem)              # ... while the reference is computed here
        expect_close("w", pending.result()["w"], expected[0])

A contract property that must hold on *every* call (returned tensors are leaves, inputs are
left unchanged, ...) is an ``@invariant``: the runner evaluates it on every reply of every
check, and a violation seen anywhere fails the invariant's own check with that call's input
as the counterexample. It also runs its own examples, drawn from its ``probe`` strategy:

    @invariant(points=2, calls=("run_fit",), probe=problems(max_steps=5), description="...")
    def returns_leaf_parameters(args, reply):
        expect(reply["w"].is_leaf, "w must be a leaf tensor.")

Feedback is translated (English, Chinese, Russian): write every sentence a student reads as
``T("{what} must be a leaf tensor.", what=name)`` (named placeholders, never concatenated
sentences; ``TN(singular, plural, n)`` where a number is shown) and mark constant strings
(descriptions, hints, ``error_hints``) with ``N_("...")``. The English text is the id.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Callable, Protocol

import torch
from hypothesis.strategies import SearchStrategy

from grader.i18n.text import N_, T, Text
from grader.sandbox.wire import WireTensor


class PendingResult(Protocol):
    def result(self) -> Any: ...


class Submission(Protocol):
    def call(self, fn: str, **args: Any) -> Any: ...

    def start(self, fn: str, **args: Any) -> PendingResult: ...


@dataclass(frozen=True)
class Check:
    name: str
    points: float
    description: str
    function: Callable[..., None]
    hint: str = ""
    visible: bool = True
    examples: int = 20
    strategies: dict[str, SearchStrategy] = field(default_factory=dict)
    error_hints: tuple[tuple[str, str], ...] = ()  # (substring of "Type: message", hint)
    # Calls into the sandbox allowed while shrinking a failure (None: the runner's default);
    # once spent, the smallest failing example found so far is reported.
    shrink_calls: int | None = None
    # On failure, show the student's autograd graph for the failing call (gradient-flow checks).
    graph: bool = False
    # Inputs tried before any random one (the boundaries the statement names), each a dict
    # with one value per strategy; a failing explicit example is reported as it is.
    explicit: tuple[dict[str, Any], ...] = ()

    def hint_for_error(self, text: str) -> str:
        for needle, hint in self.error_hints:
            if needle in text:
                return hint
        return self.hint


def check(*, points: float, description: str, hint: str = "", visible: bool = True,
          examples: int = 20, error_hints: dict[str, str] | None = None,
          shrink_calls: int | None = None, graph: bool = False,
          explicit: list[dict[str, Any]] | None = None,
          **strategies: SearchStrategy) -> Callable[[Callable[..., None]], Check]:
    """Declare a check; keyword arguments other than the named ones are hypothesis strategies."""

    def decorate(function: Callable[..., None]) -> Check:
        return Check(name=function.__name__, points=points, description=description,
                     function=function, hint=hint, visible=visible, examples=examples,
                     strategies=dict(strategies),
                     error_hints=tuple((error_hints or {}).items()),
                     shrink_calls=shrink_calls, graph=graph, explicit=tuple(explicit or ()))

    return decorate


@dataclass(frozen=True)
class Invariant(Check):
    """A contract property of every reply to the driver functions named in ``calls``.

    ``function(args, reply)`` raises :class:`CheckFailed` when ``reply`` (what the driver
    reported for a call with keyword arguments ``args``) breaks the contract. It must be
    cheap and must not call the submission: it runs on every reply of every check.
    """

    calls: tuple[str, ...] = ()

    def applies_to(self, fn: str) -> bool:
        return fn in self.calls


def invariant(*, points: float, description: str, calls: tuple[str, ...] | list[str],
              probe: SearchStrategy | None = None, hint: str = "", visible: bool = True,
              examples: int = 10, error_hints: dict[str, str] | None = None,
              shrink_calls: int | None = None, graph: bool = False,
              explicit: list[dict[str, Any]] | None = None,
              ) -> Callable[[Callable[[dict, Any], None]], Invariant]:
    """Declare a contract invariant, checked on every reply of every check to ``calls``.

    ``probe`` draws keyword arguments for ``calls[0]``: the invariant's own examples, so it is
    exercised even where no other check calls that function; ``explicit`` lists argument
    dicts tried first.
    """
    if not calls:
        raise ValueError("an invariant must name the driver functions it watches")

    def decorate(function: Callable[[dict, Any], None]) -> Invariant:
        return Invariant(name=function.__name__, points=points, description=description,
                         function=function, hint=hint, visible=visible, examples=examples,
                         strategies={} if probe is None else {"args": probe},
                         error_hints=tuple((error_hints or {}).items()),
                         shrink_calls=shrink_calls, graph=graph, calls=tuple(calls),
                         explicit=tuple({"args": e} for e in (explicit or ())))

    return decorate


class CheckFailed(AssertionError):
    """The submission answered, and the answer is wrong."""

    def __init__(self, message: "str | Text", expected: Any = None, got: Any = None, hint: "str | Text | None" = None,
                 example: dict[str, Any] | None = None):
        super().__init__(message)
        self.message = message
        self.expected = None if expected is None else fmt(expected)
        self.got = None if got is None else fmt(got)
        self.hint = hint
        # The failing input, for checks that find it themselves (e.g. a stateful machine's steps);
        # otherwise the runner reports the example hypothesis drew for the check.
        self.example = example


def expect(condition: bool, message: "str | Text", *, expected: Any = None, got: Any = None,
           hint: "str | Text | None" = None) -> None:
    if not condition:
        raise CheckFailed(message, expected=expected, got=got, hint=hint)


def values_of(value: Any, what: "str | Text" = N_("The value")) -> torch.Tensor:
    """The numbers in ``value``; a value that holds no numbers fails the check."""
    if isinstance(value, WireTensor):
        return value.value
    if isinstance(value, torch.Tensor):
        return value.detach()
    try:
        return torch.as_tensor(value, dtype=torch.float64)
    except (TypeError, ValueError, RuntimeError):
        raise CheckFailed(T("{what} is not a number or a tensor.", what=what), got=value) from None


def expect_close(what: str, got: Any, expected: Any, *, rtol: float = 1e-4, atol: float = 1e-5,
                 hint: str | None = None) -> None:
    """Values (and shape) of ``got`` match ``expected`` within tolerance; NaNs never match."""
    got_t, exp_t = values_of(got, what), values_of(expected)
    if tuple(got_t.shape) != tuple(exp_t.shape):
        raise CheckFailed(T("{what} has shape {shape}, expected {expected_shape}.", what=what,
                            shape=tuple(got_t.shape), expected_shape=tuple(exp_t.shape)),
                          expected=expected, got=got, hint=hint)
    if not torch.allclose(got_t.double(), exp_t.double(), rtol=rtol, atol=atol):
        raise CheckFailed(T("{what} does not have the expected value.", what=what), expected=expected,
                          got=got, hint=hint)


def expect_tensor(what: str, got: Any, *, shape: tuple[int, ...] | None = None,
                  dtype: torch.dtype | None = torch.float32, hint: str | None = None) -> WireTensor:
    expect(isinstance(got, WireTensor), T("{what} must be a tensor.", what=what), got=got, hint=hint)
    if shape is not None:
        expect(got.shape == tuple(shape), T("{what} must have shape {shape}.", what=what, shape=tuple(shape)),
               expected=tuple(shape), got=got.shape, hint=hint)
    if dtype is not None:
        expect(got.dtype == dtype, T("{what} must have dtype {dtype}.", what=what, dtype=str(dtype)), expected=str(dtype),
               got=str(got.dtype), hint=hint)
    return got


def fmt(value: Any, limit: int = 8) -> str:
    """A short, readable rendering of a value for feedback: shapes and a few numbers."""
    if isinstance(value, WireTensor):
        extra = [] if value.requires_grad is False else ["requires_grad=True"]
        if value.requires_grad and not value.is_leaf:
            extra.append(f"non-leaf, grad_fn={value.grad_fn}")
        return fmt(value.value, limit) + (f" ({', '.join(extra)})" if extra else "")
    if isinstance(value, torch.Tensor):
        flat = value.detach().reshape(-1).tolist()
        shown = ", ".join(_number(v) for v in flat[:limit]) + (", ..." if len(flat) > limit else "")
        if value.dim() == 0:
            return f"tensor({shown})"
        return f"tensor of shape {tuple(value.shape)}: [{shown}]"
    if isinstance(value, float):
        return _number(value)
    if isinstance(value, (list, tuple)):
        items = [fmt(v, limit) for v in value[:limit]]
        return "[" + ", ".join(items) + (", ..." if len(value) > limit else "") + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {fmt(v, limit)}" for k, v in value.items()) + "}"
    return repr(value)


def _number(v: Any) -> str:
    if isinstance(v, bool) or not isinstance(v, float):
        return repr(v)
    if math.isnan(v) or math.isinf(v):
        return repr(v)
    return f"{v:.6g}"


def render_example(drawn: dict[str, Any]) -> dict[str, Any]:
    """The smallest failing input, as JSON-friendly strings and numbers."""
    out: dict[str, Any] = {}
    for key, value in drawn.items():
        if isinstance(value, dict):
            out.update({f"{key}.{k}" if len(drawn) > 1 else k: v
                        for k, v in render_example(value).items()})
        elif isinstance(value, (bool, int, str)) or value is None:
            out[key] = value
        elif isinstance(value, float):
            out[key] = float(_number(value))
        else:
            out[key] = fmt(value, limit=12)
    return out
