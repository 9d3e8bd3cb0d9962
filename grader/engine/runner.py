"""Runs one check against a submission with hypothesis, and turns the outcome into a verdict.

Hypothesis runs derandomized with no example database, so the same submission always sees
the same inputs and gets the same score. A sandbox death (timeout, memory, crash, invalid
reply) is a ``BaseException`` that aborts the run at once instead of being shrunk.
"""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, Phase, Verbosity, given, settings
from hypothesis import strategies as st

from grader.checks import Check, CheckFailed, render_example
from grader.engine.results import CheckResult, Verdict
from grader.sandbox.client import ContractViolation, SandboxVerdict, StudentError

PHASES = (Phase.explicit, Phase.generate, Phase.shrink)


def hypothesis_settings(examples: int) -> settings:
    return settings(max_examples=examples, derandomize=True, database=None, deadline=None,
                    verbosity=Verbosity.quiet, phases=PHASES, report_multiple_bugs=False,
                    print_blob=False, suppress_health_check=list(HealthCheck))


def run_check(check: Check, sub: Any, examples: int | None = None) -> CheckResult:
    """Run ``check`` against ``sub`` (anything with ``call(fn, **args)``)."""
    seen: dict[str, Any] = {}

    def body(drawn: dict[str, Any]) -> None:
        seen["drawn"] = drawn
        check.function(sub, **drawn)

    test = body
    if check.strategies:
        test = hypothesis_settings(examples or check.examples)(
            given(st.fixed_dictionaries(check.strategies))(body))
    try:
        if check.strategies:
            test()
        else:
            body({})
    except SandboxVerdict as exc:
        return _result(check, exc.verdict, exc.message, seen)
    except BaseException as exc:  # noqa: BLE001 - classified below, anything else re-raised
        return _classify(check, _unwrap(exc), seen)
    return _result(check, Verdict.PASSED, "", seen)


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
        message = f"Your code raised {text}"
        if exc.traceback:
            message += f"\n{exc.traceback}"
        return _result(check, Verdict.ERROR, message, seen, hint=check.hint_for_error(text))
    if isinstance(exc, (KeyboardInterrupt, SystemExit)):
        raise exc
    # A bug in the check itself must not be blamed on the student, and must not pass silently.
    return _result(check, Verdict.ERROR,
                   f"The grader could not run this check ({type(exc).__name__}: {exc}). "
                   "Please report this to your instructor.", seen, hint=None)


def _result(check: Check, verdict: Verdict, message: str, seen: dict[str, Any], *,
            hint: str | None = None, expected: str | None = None,
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
