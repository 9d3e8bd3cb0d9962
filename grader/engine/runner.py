"""Runs one check against a submission with hypothesis, and turns the outcome into a verdict.

Hypothesis runs derandomized with no example database, so the same submission always sees
the same inputs and gets the same score. A sandbox death (timeout, memory, crash, invalid
reply) is a ``BaseException`` that aborts the run at once instead of being shrunk.

Three things make grading deep without making failing submissions slow:

- **Invariants are watched on every call.** Every reply of every check passes through
  :class:`Observation`, which evaluates each ``@invariant`` that watches that driver function
  and keeps its smallest violation; :meth:`Observation.verdict` turns it into the invariant's
  own result at the end.
- **Shrinking has a call budget.** Once a check has failed, only ``shrink_calls`` more calls
  reach the sandbox. The next one stops hypothesis altogether (a ``BaseException``, which it
  does not catch; letting candidates "pass" instead still cost ~8 ms of drawing each, for
  hundreds of candidates), and the last failing example (the shrinker only moves to smaller
  ones) is reported, marked as not fully minimal. The budget counts calls, not seconds, so
  grading stays deterministic.
- **Nothing runs twice.** Each example is remembered by value: hypothesis' final replay of
  the minimal example (and any candidate equal to a known failure) raises the remembered
  exception, and an example equal to one that passed (hypothesis draws duplicates from
  different choices) passes, without calling the sandbox again.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import torch
from hypothesis import HealthCheck, Phase, Verbosity, example, given, settings
from hypothesis import strategies as st

from grader.checks import Check, CheckFailed, Invariant, render_example
from grader.engine.results import CheckResult, Verdict
from grader.i18n.text import T, Text
from grader.sandbox.client import ContractViolation, SandboxVerdict, StudentError
from grader.sandbox.wire import WireTensor

PHASES = (Phase.explicit, Phase.generate, Phase.shrink)
SHRINK_CALLS = 12  # sandbox calls a failing check may spend on shrinking its counterexample


def hypothesis_settings(examples: int) -> settings:
    _ignore_local_constants()
    return settings(max_examples=examples, derandomize=True, database=None, deadline=None,
                    verbosity=Verbosity.quiet, phases=PHASES, report_multiple_bugs=False,
                    print_blob=False, suppress_health_check=list(HealthCheck))


def _ignore_local_constants() -> None:
    """Make hypothesis draw only from its own constants, never from the loaded modules'.

    Hypothesis (6.13x+) mixes into its draws the int/float/str literals of every loaded
    module outside site-packages: the grader package itself (installed editable), the
    exercises' ``checks.py``, ``__main__``. The inputs a check sees would then depend on
    which modules happen to be loaded (pytest, the CLI, a worker) and on any edit of the
    grader's source, and the same submission could get a different score. Grading must
    depend on the check alone. Idempotent; one process-wide switch, like hypothesis' own
    module state, so concurrent grading threads all see the same pool.
    """
    from hypothesis.internal.conjecture import providers

    if getattr(providers._get_local_constants, "_grader_pinned", False):
        return
    empty = providers.Constants()

    def no_local_constants() -> providers.Constants:
        return empty

    no_local_constants._grader_pinned = True  # type: ignore[attr-defined]
    providers._get_local_constants = no_local_constants
    providers.CONSTANTS_CACHE.cache.clear()


# ----------------------------------------------------------------------------- invariants
@dataclass
class Violation:
    size: int
    error: BaseException
    fn: str
    args: dict[str, Any]
    seen_in: str


class Observation:
    """Evaluates the invariants on every reply, remembering each one's smallest violation."""

    def __init__(self, checks: list[Check]):
        self.invariants = [c for c in checks if isinstance(c, Invariant)]
        self.violations: dict[str, Violation] = {}
        self.calls_seen: dict[str, int] = {c.name: 0 for c in self.invariants}
        self.current = ""  # the check whose calls are being watched
        self.skip = ""  # the invariant whose own run evaluates it directly

    def observe(self, fn: str, args: dict[str, Any], reply: Any) -> None:
        for inv in self.invariants:
            if not inv.applies_to(fn) or inv.name == self.skip:
                continue
            self.calls_seen[inv.name] += 1
            try:
                inv.function(args, reply)
            except Exception as exc:  # noqa: BLE001 - CheckFailed, or a reply it cannot read
                size = example_size(args)
                known = self.violations.get(inv.name)
                if known is None or size < known.size:
                    self.violations[inv.name] = Violation(size, exc, fn, args, self.current)

    def verdict(self, inv: Invariant, own: CheckResult) -> CheckResult:
        """The invariant's result: its own run's failure, else the smallest violation seen."""
        violation = self.violations.get(inv.name)
        if not own.passed or violation is None:
            return own
        result = _classify(inv, violation.error, {"drawn": {"args": violation.args}})
        if violation.seen_in and violation.seen_in != inv.name:
            result.message = _join(result.message, f"(Seen in a call made by the check "
                                                   f"`{violation.seen_in}`.)")
        result.minimal = None  # not shrunk: the smallest of the calls that were made
        return result


def example_size(value: Any) -> int:
    """A rough size of an input, to prefer the smaller of two counterexamples."""
    if isinstance(value, torch.Tensor):
        return int(value.numel())
    if isinstance(value, WireTensor):
        return int(value.value.numel())
    if isinstance(value, bool) or value is None:
        return 0
    if isinstance(value, int):
        return min(abs(value), 1 << 20)
    if isinstance(value, dict):
        return sum(example_size(v) for v in value.values())
    if isinstance(value, (list, tuple)):
        return len(value) + sum(example_size(v) for v in value)
    return 1


def _join(message: str, extra: str) -> str:
    return f"{message} {extra}" if message else extra


# ----------------------------------------------------------------------------- one check
class _BudgetSpent(BaseException):
    """Raised at a call once a check's shrinking budget is spent: it ends the hypothesis run."""


class _Tracker:
    """Counts a check's calls into the sandbox and records the calls of the current example."""

    def __init__(self, budget: int):
        self.left = budget
        self.shrinking = False
        self.exhausted = False
        self.calls: list[tuple[str, dict[str, Any]]] = []

    def before_call(self, fn: str, args: dict[str, Any]) -> None:
        if self.shrinking:
            if self.left <= 0:
                self.exhausted = True
                raise _BudgetSpent()
            self.left -= 1
        self.calls.append((fn, args))


class _PendingObserved:
    def __init__(self, pending: Any, on_reply: Callable[[Any], None]):
        self._pending, self._on_reply = pending, on_reply

    def result(self) -> Any:
        reply = self._pending.result()
        self._on_reply(reply)
        return reply


class _Answered:
    def __init__(self, reply: Any):
        self._reply = reply

    def result(self) -> Any:
        return self._reply


class WatchedSubmission:
    """The ``sub`` a check receives: every call is counted and every reply is observed."""

    def __init__(self, sub: Any, tracker: _Tracker, observation: Observation | None):
        self._sub, self._tracker, self._observation = sub, tracker, observation

    def call(self, fn: str, **args: Any) -> Any:
        return self.start(fn, **args).result()

    def start(self, fn: str, **args: Any) -> _PendingObserved:
        self._tracker.before_call(fn, args)
        start = getattr(self._sub, "start", None)
        pending = start(fn, **args) if start is not None else _Answered(self._sub.call(fn, **args))
        observation = self._observation
        if observation is None:
            return _PendingObserved(pending, lambda reply: None)
        return _PendingObserved(pending, lambda reply: observation.observe(fn, args, reply))


def example_key(value: Any) -> Any:
    """A hashable identity of a drawn example, by value (tensors by dtype, shape and bytes)."""
    if isinstance(value, torch.Tensor):
        data = value.detach().contiguous()
        return ("tensor", str(data.dtype), tuple(data.shape), data.numpy().tobytes()
                if data.dtype is not torch.bfloat16 else data.view(torch.int16).numpy().tobytes())
    if isinstance(value, dict):
        return ("dict", tuple((k, example_key(v)) for k, v in value.items()))
    if isinstance(value, (list, tuple)):
        return (type(value).__name__, tuple(example_key(v) for v in value))
    if isinstance(value, float):
        return ("float", value.hex())
    return (type(value).__name__, repr(value))


def run_check(check: Check, sub: Any, examples: int | None = None,
              observation: Observation | None = None) -> CheckResult:
    """Run ``check`` against ``sub`` (anything with ``start(fn, **args)``), watching its calls."""
    budget = SHRINK_CALLS if check.shrink_calls is None else check.shrink_calls
    tracker = _Tracker(budget)
    watched = WatchedSubmission(sub, tracker, observation)
    failures: dict[Any, BaseException] = {}
    calls_of: dict[Any, list[tuple[str, dict[str, Any]]]] = {}
    seen: dict[str, Any] = {}
    last_failure: dict[str, Any] = {}
    passes: set[Any] = set()
    own_invariant = isinstance(check, Invariant)

    def run_function(drawn: dict[str, Any]) -> None:
        if own_invariant:  # without a probe, an invariant only watches the other checks' calls
            if "args" in drawn:
                check.function(drawn["args"], watched.call(check.calls[0], **drawn["args"]))
        else:
            check.function(watched, **drawn)

    def body(drawn: dict[str, Any]) -> None:
        key = example_key(drawn)
        seen["drawn"], seen["key"] = drawn, key
        if key in failures:  # a known failure (e.g. hypothesis' final replay): no call needed
            raise failures[key]
        if key in passes:  # hypothesis draws equal values from different choices
            return
        tracker.calls = []
        try:
            run_function(drawn)
            passes.add(key)
        except Exception as exc:
            failures[key], calls_of[key] = exc, tracker.calls
            last_failure.update(drawn=drawn, key=key, error=exc)
            tracker.shrinking = True
            raise

    if observation is not None:
        observation.current = check.name
        observation.skip = check.name if own_invariant else ""
    try:
        if check.strategies:
            test = given(st.fixed_dictionaries(check.strategies))(body)
            for explicit in reversed(check.explicit):
                test = example(_Explicit(explicit))(test)
            hypothesis_settings(examples or check.examples)(test)()
        else:
            body({})
    except SandboxVerdict as exc:
        return _result(check, exc.verdict, exc.message, seen)
    except BaseException as exc:  # noqa: BLE001 - classified below, anything else re-raised
        if isinstance(exc, _BudgetSpent):  # report the last failure, which the budget stopped shrinking
            seen.update(drawn=last_failure["drawn"], key=last_failure["key"])
            exc = last_failure["error"]
        result = _classify(check, _unwrap(exc), seen)
        if not result.passed and result.counterexample is not None:
            result.minimal = not tracker.exhausted
        if not result.passed and check.graph:
            result.graph = _graph_for(sub, calls_of.get(seen.get("key"), []))
        return result
    finally:
        if observation is not None:
            observation.skip = ""
    return _result(check, Verdict.PASSED, "", seen)


class _Explicit(dict):
    """An explicit example hypothesis need not pretty-print: it describes every explicit
    example up front, which cost 3-30 ms for one holding tensors."""

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        printer.text("<explicit example>")

    def __repr__(self) -> str:
        return "<explicit example>"


def _graph_for(sub: Any, calls: list[tuple[str, dict[str, Any]]]) -> dict | None:
    """The student's autograd graph for the first call of the failing example, if available."""
    graph_of = getattr(sub, "graph_of", None)
    if graph_of is None or not calls:
        return None
    fn, args = calls[0]
    return graph_of(fn, args)


def _unwrap(exc: BaseException) -> BaseException:
    """Hypothesis wraps non-reproducible failures in an exception group: take the first."""
    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        exc = exc.exceptions[0]
    return exc


def _classify(check: Check, exc: BaseException, seen: dict[str, Any]) -> CheckResult:
    if isinstance(exc, SandboxVerdict):
        return _result(check, exc.verdict, exc.message, seen)
    if isinstance(exc, CheckFailed):
        if exc.example is not None:
            seen = {"drawn": exc.example}
        return _result(check, Verdict.FAILED, exc.message, seen, hint=exc.hint or check.hint,
                       expected=exc.expected, got=exc.got)
    if isinstance(exc, ContractViolation):
        sentence = str(exc).strip()  # the driver's own, complete sentence
        return _result(check, Verdict.FAILED, sentence if sentence.endswith(".") else sentence + ".", seen)
    if isinstance(exc, StudentError):
        text = f"{exc.type_name}: {exc.message}"
        message = (T("Your code raised {error}\n{traceback}", error=text, traceback=exc.traceback)
                   if exc.traceback else T("Your code raised {error}", error=text))
        return _result(check, Verdict.ERROR, message, seen, hint=check.hint_for_error(text))
    if isinstance(exc, (KeyboardInterrupt, SystemExit)):
        raise exc
    # A bug in the check itself must not be blamed on the student, and must not pass silently.
    error = f"{type(exc).__name__}: {exc}"
    return _result(check, Verdict.ERROR,
                   T("The grader could not run this check ({error}). Please report this to your instructor.",
                     error=error), seen, hint=None)


def _result(check: Check, verdict: Verdict, message: str | Text, seen: dict[str, Any], *,
            hint: str | Text | None = None, expected: str | None = None,
            got: str | None = None) -> CheckResult:
    passed = verdict is Verdict.PASSED
    if not passed and hint is None and verdict is not Verdict.ERROR:
        hint = check.hint or None
    return CheckResult(
        name=check.name, verdict=verdict,
        points=check.points if passed else 0.0, max_points=check.points,
        message=message, description=check.description, visible=check.visible,
        hint=None if passed else (hint or None),
        counterexample=None if passed or not seen.get("drawn") else render_example(seen["drawn"]),
        expected=expected, got=got)

