"""Grading one submission: static checks, then every property check through the sandbox.

This is the service function every entry point (CLI, web, LMS) ends up calling:

    result = grade_submission(exercise, submission, sandbox)

The student's code runs in a sandboxed child that ``SandboxedSubmission`` opens lazily and
re-opens after a check killed it (a timeout in one check must not zero the others). The
checks, references and scoring all run here, in the trusted process.
"""

from __future__ import annotations

import time
import types
from dataclasses import replace
from typing import Any

import torch

from grader.engine import static
from grader.engine.bank import Exercise
from grader.engine.results import CheckResult, GradeResult, Verdict
from grader.i18n.text import N_, T, Text
from grader.checks import Invariant
from grader.engine.runner import Observation, example_key, run_check
from grader.sandbox import driver_kit
from grader.sandbox.client import (ContractViolation, LoadError, LoadRequest, Sandbox,
                                   SandboxVerdict, Session, StudentError)
from grader.engine.source import SubmissionSource

FORBIDDEN_CHECK = "avoids_forbidden_apis"


class PendingCall:
    """A call sent to the submission whose answer has not been read yet."""

    def __init__(self, receive: Any):
        self._receive = receive

    def result(self) -> Any:
        return self._receive()


class SandboxedSubmission:
    """The ``sub`` handle a check receives: calls go to a confined child, with deadlines."""

    def __init__(self, sandbox: Sandbox, exercise: Exercise, submission: SubmissionSource):
        self.sandbox, self.exercise, self.submission = sandbox, exercise, submission
        self.deadline = time.monotonic() + exercise.limits.wall_seconds
        self.limits = replace(sandbox.settings.limits, cpu_seconds=int(exercise.limits.cpu_seconds),
                              memory_bytes=int(exercise.limits.memory_mb) << 20)
        self.session: Session | None = None
        self._reference: Session | None = None  # the reference solution, for expected graphs
        self._expected: dict[Any, dict | None] = {}
        self.load = LoadRequest(driver_source=exercise.driver_source, source=submission.source,
                                filename=submission.filename, entry_points=exercise.entry_points)

    def ensure_open(self) -> Session:
        if self.session is None or not self.session.alive:
            self._check_budget()
            self.session = self.sandbox.open(self.load, self.deadline - time.monotonic(), self.limits)
        return self.session

    def call(self, fn: str, **args: Any) -> Any:
        return self.start(fn, **args).result()

    def start(self, fn: str, **args: Any) -> "PendingCall":
        """Send the call and return at once; ``.result()`` waits for the answer. A check can
        compute its reference in between, on the other core, while the student's code runs."""
        session = self.ensure_open()
        self._check_budget()
        deadline = min(self.deadline, time.monotonic() + self.exercise.limits.call_seconds)
        session.begin(fn, args, deadline)
        return PendingCall(lambda: session.finish(deadline))

    def _check_budget(self) -> None:
        if time.monotonic() >= self.deadline:
            raise SandboxVerdict(Verdict.TIMEOUT, N_("the time allowed for the whole submission ran out"))

    def take_output(self) -> str:
        return self.session.read_output() if self.session is not None else ""

    def graph_of(self, fn: str, args: dict[str, Any]) -> dict | None:
        """The autograd graph the student's code built for this call, next to the one the
        reference solution builds; ``None`` if it cannot be had (it never changes a verdict)."""
        try:
            student = self._graph_from(self.ensure_open(), fn, args)
        except (SandboxVerdict, Exception):  # noqa: BLE001 - a picture must never cost a grade
            return None
        if student is None:
            return None
        expected = self._expected_graph(fn, args)
        if not student["cuts"] and expected is not None and _same_shape(student, expected):
            return None  # the graph is fine: the bug is elsewhere, and a picture would mislead
        return {"student": student, "expected": expected}

    def _graph_from(self, session: Session, fn: str, args: dict[str, Any]) -> dict | None:
        from grader.engine import graph  # only failing gradient-flow checks need it

        self._check_budget()
        deadline = min(self.deadline, time.monotonic() + self.exercise.limits.call_seconds)
        return graph.validate(session.graph(fn, args, deadline))

    def _expected_graph(self, fn: str, args: dict[str, Any]) -> dict | None:
        """The same call on the bank's reference solution, in one child of its own that is
        opened on the first failure and kept for the rest of this submission."""
        if self.exercise.solution is None:
            return None
        key = example_key((fn, args))
        if key not in self._expected:
            self._expected[key] = None
            try:
                if self._reference is None or not self._reference.alive:
                    load = replace(self.load, source=self.exercise.solution.read_text(encoding="utf-8"),
                                   filename=f"{self.exercise.slug}.py")
                    self._reference = self.sandbox.open(load, self.deadline - time.monotonic(), self.limits)
                self._expected[key] = self._graph_from(self._reference, fn, args)
            except (SandboxVerdict, Exception):  # noqa: BLE001 - as above: it is optional
                pass
        return self._expected[key]

    def close(self) -> None:
        for session in (self.session, self._reference):
            if session is not None:
                session.close(wait=False)


class LocalSubmission:
    """The same ``sub`` interface with no sandbox at all: the in-process lower bound for
    benchmarks. Never used on untrusted code."""

    def __init__(self, exercise: Exercise, source: str, filename: str = "solution.py"):
        self.driver = types.ModuleType("exercise_driver")
        exec(compile(exercise.driver_source, "<exercise driver>", "exec"), self.driver.__dict__)
        self.student = types.ModuleType("submission")
        self.student.__file__ = filename
        exec(compile(source, filename, "exec"), self.student.__dict__)

    def start(self, fn: str, **args: Any) -> PendingCall:
        result = self.call(fn, **args)  # in process there is nothing to overlap with
        return PendingCall(lambda: result)

    def call(self, fn: str, **args: Any) -> Any:
        copied = _map_tensors(args, _local_copy)  # the student must not touch the checks' tensors
        torch.default_generator.manual_seed(0)
        try:
            result = getattr(self.driver, fn)(self.student, **copied)
        except driver_kit.ContractViolation as exc:
            raise ContractViolation(str(exc)) from None
        except Exception as exc:  # noqa: BLE001
            raise StudentError(type(exc).__name__, str(exc)) from None
        return _map_tensors(result, lambda t: driver_kit.tensor_report(t, "value"))


def _same_shape(student: dict, expected: dict) -> bool:
    """Two graphs with the same nodes (kind, label, shape) joined the same way."""
    def shape(graph: dict) -> tuple:
        labels = {n["id"]: (n["kind"], n["label"], repr(n.get("shape"))) for n in graph["nodes"]}
        return (sorted(labels.values()), sorted((labels.get(a), labels.get(b)) for a, b in graph["edges"]))

    return shape(student) == shape(expected)


def _local_copy(tensor: torch.Tensor) -> torch.Tensor:
    copy = tensor.detach().clone()
    return copy.requires_grad_(tensor.requires_grad) if tensor.is_floating_point() else copy


def _map_tensors(value: Any, function: Any) -> Any:
    if isinstance(value, torch.Tensor):
        return function(value)
    if isinstance(value, dict):
        return {k: _map_tensors(v, function) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_map_tensors(v, function) for v in value]
    return value


# ----------------------------------------------------------------------------- service
def grade_submission(exercise: Exercise, submission: SubmissionSource, sandbox: Sandbox,
                     file: str | None = None) -> GradeResult:
    started = time.perf_counter()
    file = file or submission.filename
    checks = exercise.checks
    results: list[CheckResult] = []
    notes = list(submission.notes)
    if exercise.forbidden:
        forbidden = forbidden_api_result(exercise, submission.source)
        results.append(forbidden)
        if not forbidden.passed:
            results += [not_run(c, N_("Not run: the submission uses an API this exercise forbids."))
                        for c in checks]
            return _finish(exercise, file, results, notes, started)
    sub = SandboxedSubmission(sandbox, exercise, submission)
    try:
        sub.ensure_open()
    except LoadError as exc:
        message = (T("Your file could not be imported: {reason}\n{traceback}", reason=exc.message,
                     traceback=exc.traceback) if exc.traceback
                   else T("Your file could not be imported: {reason}", reason=exc.message))
        results += [not_run(c, message, Verdict.ERROR) for c in checks]
        return _finish(exercise, file, results, notes, started)
    except SandboxVerdict as exc:
        results += [not_run(c, T("Your file could not be imported: {reason}", reason=exc.message), exc.verdict)
                    for c in checks]
        return _finish(exercise, file, results, notes, started)
    observation = Observation(checks)
    graded: list[CheckResult] = []
    try:
        for check in checks:
            try:
                result = run_check(check, sub, exercise.examples_for(check), observation)
            except LoadError as exc:  # the child was re-opened after a crash and failed to load
                result = not_run(check, T("Your file could not be imported: {reason}", reason=exc.message), Verdict.ERROR)
            output = sub.take_output()
            if output and not result.passed:
                result.output = output
            graded.append(result)
        # Invariants are judged last: a violation may show up in any later check's calls.
        graded = [observation.verdict(c, r) if isinstance(c, Invariant) else r
                  for c, r in zip(checks, graded)]
        for check, result in zip(checks, graded):
            if check.graph and isinstance(check, Invariant) and not result.passed and result.graph is None:
                violation = observation.violations.get(check.name)
                if violation is not None:
                    result.graph = sub.graph_of(violation.fn, violation.args)
    finally:
        sub.close()
    return _finish(exercise, file, results + graded, notes, started)


def forbidden_api_result(exercise: Exercise, source: str) -> CheckResult:
    findings = static.find_forbidden(source, exercise.forbidden)
    points = float(exercise.check_settings.get(FORBIDDEN_CHECK, {}).get("points", 0.0))
    if not findings:
        return CheckResult(name=FORBIDDEN_CHECK, verdict=Verdict.PASSED, points=points,
                           max_points=points, message="",
                           description=N_("Does not use the APIs this exercise forbids."))
    first = findings[0]
    apis = ", ".join(sorted({f.api for f in findings}))
    return CheckResult(
        name=FORBIDDEN_CHECK, verdict=Verdict.FAILED, points=0.0, max_points=points,
        message=T("This exercise asks you to write this without {apis}, but line {line} uses it: `{code}`",
                  apis=apis, line=first.line, code=first.text),
        description=N_("Does not use the APIs this exercise forbids."),
        hint=N_("The point of this exercise is to do by hand what that API does for you."))


def not_run(check: Any, message: "str | Text", verdict: Verdict = Verdict.FAILED) -> CheckResult:
    return CheckResult(name=check.name, verdict=verdict, points=0.0, max_points=check.points,
                       message=message, description=check.description, visible=check.visible)


def _finish(exercise: Exercise, file: str, results: list[CheckResult], notes: list[str],
            started: float) -> GradeResult:
    result = GradeResult.from_checks(file, exercise.slug, exercise.points, results, notes)
    result.seconds = time.perf_counter() - started
    return result
