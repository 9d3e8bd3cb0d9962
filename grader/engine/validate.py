"""``grader check``: validate the exercise bank.

For every exercise: the metadata is complete, the notebook is in sync with ``stub.py``, the
reference solution gets full marks, the stub scores less and fails the check its bug
targets, and grading the same file twice gives identical results.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

from grader.engine.bank import REQUIRED_FILES, BankError, Exercise
from grader.engine.grading import FORBIDDEN_CHECK, grade_submission
from grader.engine.notebooks import stub_to_notebook
from grader.engine.results import GradeResult
from grader.sandbox.client import Sandbox
from grader.engine.source import SubmissionError, read_submission


@dataclass
class ExerciseReport:
    slug: str
    problems: list[str] = field(default_factory=list)
    solution_score: float | None = None
    stub_score: float | None = None
    max_score: float = 0.0
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.problems


def metadata_problems(exercise: Exercise) -> list[str]:
    problems = [f"{name} is missing" for name in REQUIRED_FILES
                if not (exercise.folder / name).exists()]
    if exercise.solution is None:
        problems.append(f"solutions/{exercise.slug}.py is missing")
    if not exercise.title.strip() or not exercise.summary.strip():
        problems.append("exercise.toml needs a non-empty title and summary")
    if not exercise.entry_points:
        problems.append("exercise.toml names no entry points")
    try:
        checks = exercise.checks
    except BankError as exc:
        return problems + [str(exc)]
    if not checks:
        return problems + ["checks.py defines no checks"]
    names = [c.name for c in checks]
    total = sum(c.points for c in checks)
    if exercise.forbidden:
        total += float(exercise.check_settings.get(FORBIDDEN_CHECK, {}).get("points", 0.0))
    if abs(total - exercise.points) > 1e-9:
        problems.append(f"the checks are worth {total:g} points but exercise.toml says {exercise.points:g}")
    for check in checks:
        if not check.description.strip():
            problems.append(f"check {check.name} has no description")
        if check.points <= 0:
            problems.append(f"check {check.name} is worth no points")
    if not exercise.stub_fails:
        problems.append("exercise.toml: stub_fails must name the check the stub's bug targets")
    problems += [f"stub_fails names {n!r}, which is not a check" for n in exercise.stub_fails
                 if n not in names]
    problems += [f"exercise.toml configures {n!r}, which is not a check"
                 for n in exercise.check_settings if n not in names and n != FORBIDDEN_CHECK]
    return problems


def translation_problems(exercise: Exercise) -> list[str]:
    """The statement's translations and the checks' constant texts in every language."""
    from grader.i18n.statements import feedback_problems, statement_problems

    texts = [c.description for c in exercise.checks if isinstance(c.description, str)]
    texts += [c.hint for c in exercise.checks if isinstance(c.hint, str) and c.hint]
    return statement_problems(exercise.folder) + feedback_problems(texts)


def notebook_problems(exercise: Exercise) -> list[str]:
    if not exercise.notebook_path.exists() or not exercise.stub_path.exists():
        return []
    expected = stub_to_notebook(exercise.stub_path.read_text(encoding="utf-8"), exercise.title)
    if exercise.notebook_path.read_text(encoding="utf-8") != expected:
        return ["stub.ipynb is out of sync with stub.py (run `grader release --update-bank`)"]
    return []


def grade_twice(exercise: Exercise, path, sandbox: Sandbox) -> tuple[GradeResult, list[str]]:
    source = read_submission(path)
    first = grade_submission(exercise, source, sandbox)
    second = grade_submission(exercise, source, sandbox)
    if first.fingerprint() != second.fingerprint():
        return first, [f"grading {path.name} twice gave different results "
                       f"({first.score:g} then {second.score:g})"]
    return first, []


def check_exercise(exercise: Exercise, sandbox: Sandbox) -> ExerciseReport:
    report = ExerciseReport(slug=exercise.slug, max_score=exercise.points)
    report.problems += metadata_problems(exercise)
    report.problems += notebook_problems(exercise)
    report.problems += translation_problems(exercise)
    if report.problems:
        return report
    try:
        solution, twice = grade_twice(exercise, exercise.solution, sandbox)
        report.problems += twice
        stub, twice = grade_twice(exercise, exercise.stub_path, sandbox)
        report.problems += twice
    except SubmissionError as exc:
        report.problems.append(str(exc))
        return report
    report.solution_score, report.stub_score = solution.score, stub.score
    if solution.score != exercise.points:
        lost = ", ".join(f"{c.name} ({c.verdict}: {c.message.splitlines()[0] if c.message else ''})"
                         for c in solution.checks if not c.passed) or solution.error
        report.problems.append(f"the reference solution scores {solution.score:g}/{exercise.points:g}: {lost}")
    if stub.score >= exercise.points:
        report.problems.append("the stub gets full marks: its bug is not caught")
    missed = [n for n in exercise.stub_fails if n not in stub.lost_checks()]
    if missed:
        report.problems.append(f"the stub passes {', '.join(missed)}, the check(s) its bug targets")
    return report


def check_bank(exercises: list[Exercise], sandbox: Sandbox,
               progress: Callable[[int, int, ExerciseReport], None] | None = None) -> list[ExerciseReport]:
    import time

    reports = []
    for index, exercise in enumerate(exercises, start=1):
        started = time.perf_counter()
        report = check_exercise(exercise, sandbox)
        report.seconds = time.perf_counter() - started
        reports.append(report)
        if progress:
            progress(index, len(exercises), report)
    return reports
