"""The result model: what a grading run produces, as plain dataclasses.

Modelled on otter-grader's ``TestCase``/``TestCaseResult``: a crash, a timeout or an
invalid reply is a *verdict* recorded as data, never an exception escaping the grader.
Everything here is JSON-serialisable through :meth:`GradeResult.to_dict`.
"""

from __future__ import annotations

import enum
from dataclasses import asdict, dataclass, field
from typing import Any

from grader.i18n.text import N_, Text

# The text fields a result may be given as a Text (message id + parameters): the English
# rendering is kept in the field, the Text itself in ``i18n``, for rendering in another
# language at the edge (``grader.i18n.localize``).
CHECK_TEXT_FIELDS = ("message", "description", "hint")


class Verdict(str, enum.Enum):
    PASSED = "passed"
    FAILED = "failed"  # the submission answered, and the answer is wrong
    ERROR = "error"  # the submission's own code raised
    TIMEOUT = "timeout"  # wall-clock or CPU limit
    MEMORY = "memory"  # memory limit
    CRASHED = "crashed"  # the sandboxed process died without answering
    INVALID_REPLY = "invalid-reply"  # the process answered something that is not a valid reply

    def __str__(self) -> str:
        return self.value


@dataclass
class CheckResult:
    name: str
    verdict: Verdict
    points: float
    max_points: float
    message: str
    description: str = ""
    visible: bool = True
    hint: str | None = None
    counterexample: dict[str, Any] | None = None  # the shrunk, smallest failing input
    expected: str | None = None
    got: str | None = None
    output: str | None = None  # what the submission printed while this check ran (capped)
    # False when shrinking stopped at its call budget: the counterexample is the smallest
    # failing input found, not necessarily the smallest there is.
    minimal: bool | None = None
    # For gradient-flow checks: {"student": graph, "expected": graph or None}, plain data
    # validated by grader.engine.graph (nodes, edges, cut markers).
    graph: dict[str, Any] | None = None
    # {field: Text.to_json()} for the text fields given as a Text (see CHECK_TEXT_FIELDS).
    i18n: dict[str, Any] | None = None

    def __post_init__(self) -> None:
        for name in CHECK_TEXT_FIELDS:
            value = getattr(self, name)
            if isinstance(value, Text):
                self.i18n = {**(self.i18n or {}), name: value.to_json()}
                setattr(self, name, str(value))

    @property
    def passed(self) -> bool:
        return self.verdict is Verdict.PASSED

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["verdict"] = self.verdict.value
        return {k: v for k, v in data.items() if v is not None}

    def student_view(self) -> dict[str, Any]:
        """What a student may see: hidden checks show only name, verdict and points."""
        if self.visible:
            return self.to_dict()
        return {
            "name": self.name,
            "verdict": self.verdict.value,
            "points": self.points,
            "max_points": self.max_points,
            "message": N_("This check is hidden.") if not self.passed else "",
            "visible": False,
        }


@dataclass
class GradeResult:
    file: str
    exercise: str
    score: float
    max_score: float
    checks: list[CheckResult] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # e.g. "2 IPython magic lines were dropped"
    error: str | None = None  # set when the file could not be graded at all
    seconds: float = 0.0
    # {"error": Text json, "notes": [Text json or None per note]} where given as a Text.
    i18n: dict[str, Any] | None = None

    def __post_init__(self) -> None:
        texts: dict[str, Any] = dict(self.i18n or {})
        if isinstance(self.error, Text):
            texts["error"] = self.error.to_json()
            self.error = str(self.error)
        if any(isinstance(note, Text) for note in self.notes):
            texts["notes"] = [note.to_json() if isinstance(note, Text) else None for note in self.notes]
            self.notes = [str(note) for note in self.notes]
        self.i18n = texts or None

    @classmethod
    def ungradable(cls, file: str, exercise: str, max_score: float, reason: str) -> "GradeResult":
        return cls(file=file, exercise=exercise, score=0.0, max_score=max_score, error=reason)

    @classmethod
    def from_checks(cls, file: str, exercise: str, max_score: float, checks: list[CheckResult],
                    notes: list[str] | None = None) -> "GradeResult":
        score = round(sum(c.points for c in checks), 6)
        return cls(file=file, exercise=exercise, score=score, max_score=max_score,
                   checks=checks, notes=list(notes or []))

    def check(self, name: str) -> CheckResult:
        for result in self.checks:
            if result.name == name:
                return result
        raise KeyError(name)

    def lost_checks(self) -> set[str]:
        return {c.name for c in self.checks if not c.passed}

    def to_dict(self) -> dict[str, Any]:
        data = {
            "file": self.file,
            "exercise": self.exercise,
            "score": self.score,
            "max_score": self.max_score,
            "checks": [c.to_dict() for c in self.checks],
            "notes": self.notes,
            "seconds": round(self.seconds, 4),
        }
        if self.error is not None:
            data["error"] = self.error
        if self.i18n:
            data["i18n"] = self.i18n
        return data

    def student_dict(self) -> dict[str, Any]:
        data = self.to_dict()
        data["checks"] = [c.student_view() for c in self.checks]
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "GradeResult":
        checks = [CheckResult(**{**c, "verdict": Verdict(c["verdict"])}) for c in data.get("checks", [])]
        return cls(file=data["file"], exercise=data["exercise"], score=data["score"],
                   max_score=data["max_score"], checks=checks, notes=list(data.get("notes", [])),
                   error=data.get("error"), seconds=data.get("seconds", 0.0), i18n=data.get("i18n"))

    def fingerprint(self) -> tuple:
        """Everything that must be identical when the same submission is graded twice."""
        return (self.score, self.error, tuple(
            (c.name, c.verdict.value, c.points, c.message, repr(c.counterexample), c.expected, c.got,
             c.minimal, repr(c.graph))
            for c in self.checks))
