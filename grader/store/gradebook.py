"""What an instructor reads about a course: the gradebook (students x exercises) and, per
exercise, which checks the class fails and which hints fire most.

Every score here is the one a submission counts for (its newest graded run, see
``grader.store.scores``): a regrade changes the gradebook, the old runs stay in the history.
The web page and ``grader export`` build their CSV with the same :func:`csv_text`.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from dataclasses import dataclass, field
from typing import Iterator

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session, selectinload

from grader.store import accounts, catalog, scores
from grader.store.models import (CheckRow, Course, Enrolment, Exercise, GradingRun, Role, RunStatus,
                                 Submission, User)

SORT_COLUMNS = ("name", "email", "total")
# A spreadsheet runs a cell that starts with one of these as a formula ("CSV injection").
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


# ----------------------------------------------------------------------------- courses
def taught_courses(session: Session, user: User) -> list[Course]:
    """The courses ``user`` may see the gradebook of (as ``submissions.can_teach`` decides)."""
    return accounts.courses_of(session, user) if user.is_instructor else []


def roster(session: Session, course_id: str) -> list[Enrolment]:
    """Everyone enrolled in the course, instructors first, then by name."""
    return list(session.scalars(
        select(Enrolment).join(User, Enrolment.user_id == User.id).options(selectinload(Enrolment.user))
        .where(Enrolment.course_id == course_id)
        .order_by(case((Enrolment.role == Role.INSTRUCTOR.value, 0), else_=1), User.display_name, User.email)))


def students_of(session: Session, course_id: str) -> list[User]:
    return list(session.scalars(
        select(User).join(Enrolment, Enrolment.user_id == User.id)
        .where(Enrolment.course_id == course_id, Enrolment.role == Role.STUDENT.value)
        .order_by(User.display_name, User.email)))


# ----------------------------------------------------------------------------- gradebook
@dataclass(frozen=True)
class Cell:
    """One student at one exercise."""

    attempts: int = 0
    best: float | None = None
    latest: float | None = None  # the newest submission that has a grade
    max_score: float = 0.0
    newest_submission_id: int | None = None  # graded or not
    last_submitted: dt.datetime | None = None


@dataclass
class StudentRow:
    user_id: int
    email: str
    name: str
    cells: dict[str, Cell] = field(default_factory=dict)  # by exercise slug

    @property
    def total_best(self) -> float:
        return sum(cell.best or 0.0 for cell in self.cells.values())

    @property
    def attempts(self) -> int:
        return sum(cell.attempts for cell in self.cells.values())


@dataclass
class Gradebook:
    course: Course
    exercises: list[Exercise]
    students: list[StudentRow]

    @property
    def max_total(self) -> float:
        return sum(exercise.points for exercise in self.exercises)

    def sort_keys(self) -> tuple[str, ...]:
        return SORT_COLUMNS + tuple(exercise.slug for exercise in self.exercises)


def build_gradebook(session: Session, course: Course) -> Gradebook:
    """Every student of the course (by name) with a cell for every exercise of the course."""
    exercises = catalog.course_exercises(session, course.id)
    rows = scores.scored_submissions(session, course_id=course.id)
    progress = scores.progress_by(rows, lambda row: (row.user_id, row.exercise_id))
    newest = {(row.user_id, row.exercise_id): row.submission_id for row in rows}  # rows are in id order
    students = []
    for user in students_of(session, course.id):
        row = StudentRow(user.id, user.email, user.display_name)
        for exercise in exercises:
            found = progress.get((user.id, exercise.id))
            if found is None:
                row.cells[exercise.slug] = Cell(max_score=exercise.points)
                continue
            row.cells[exercise.slug] = Cell(found.attempts, found.best, found.latest,
                                            found.max_score if found.max_score is not None else exercise.points,
                                            newest[(user.id, exercise.id)], found.last_submitted)
        students.append(row)
    return Gradebook(course, exercises, students)


def filter_students(rows: list[StudentRow], text: str) -> list[StudentRow]:
    """The rows whose name or email contains ``text`` (case-insensitive)."""
    needle = (text or "").strip().casefold()
    if not needle:
        return list(rows)
    return [row for row in rows if needle in row.name.casefold() or needle in row.email.casefold()]


def sort_students(rows: list[StudentRow], key: str, descending: bool = False) -> list[StudentRow]:
    """Sort by ``name``, ``email``, ``total`` or an exercise slug (its best score). Students
    without a score at that exercise come last in either direction; ties go by name."""
    by_name = sorted(rows, key=lambda row: (row.name.casefold(), row.email))
    if key == "name":
        return by_name[::-1] if descending else by_name
    if key == "email":
        return sorted(by_name, key=lambda row: row.email, reverse=descending)
    if key == "total":
        return sorted(by_name, key=lambda row: row.total_best, reverse=descending)
    scored = [row for row in by_name if key in row.cells and row.cells[key].best is not None]
    unscored = [row for row in by_name if row not in scored]
    return sorted(scored, key=lambda row: row.cells[key].best, reverse=descending) + unscored


# ----------------------------------------------------------------------------- CSV
def csv_header(book: Gradebook) -> list[str]:
    header = ["email", "name"]
    for exercise in book.exercises:
        header += [f"{exercise.slug}_best", f"{exercise.slug}_latest", f"{exercise.slug}_attempts"]
    return header + ["total_best"]


def csv_rows(book: Gradebook) -> Iterator[list[str]]:
    yield csv_header(book)
    for row in book.students:
        cells = [_safe_cell(row.email), _safe_cell(row.name)]
        for exercise in book.exercises:
            cell = row.cells[exercise.slug]
            cells += [_number(cell.best), _number(cell.latest), str(cell.attempts)]
        yield cells + [_number(row.total_best)]


def csv_text(book: Gradebook) -> str:
    """The gradebook as CSV (RFC 4180 line ends); an ungraded score is an empty cell."""
    out = io.StringIO()
    csv.writer(out).writerows(csv_rows(book))
    return out.getvalue()


def _number(value: float | None) -> str:
    return "" if value is None else f"{value:g}"


def _safe_cell(text: str) -> str:
    return "'" + text if text.startswith(_FORMULA_STARTS) else text


# ----------------------------------------------------------------------------- exercises
@dataclass(frozen=True)
class ExerciseSummary:
    exercise: Exercise
    students: int  # enrolled students
    attempted: int  # of them, how many submitted at least once
    full_marks: int
    submissions: int
    mean_best: float | None  # over the students with a score


def summarise_exercises(book: Gradebook) -> list[ExerciseSummary]:
    out = []
    for exercise in book.exercises:
        cells = [row.cells[exercise.slug] for row in book.students]
        bests = [cell.best for cell in cells if cell.best is not None]
        out.append(ExerciseSummary(
            exercise, len(cells), sum(1 for cell in cells if cell.attempts),
            sum(1 for best in bests if exercise.points and best >= exercise.points),
            sum(cell.attempts for cell in cells), sum(bests) / len(bests) if bests else None))
    return out


@dataclass(frozen=True)
class CheckTally:
    name: str
    visible: bool
    runs: int  # graded runs that ran the check
    failed: int  # of them, how many did not pass it

    @property
    def share(self) -> float:
        return self.failed / self.runs if self.runs else 0.0


@dataclass(frozen=True)
class HintTally:
    hint: str
    count: int  # failed checks that showed it (one submission can show a hint at several checks)
    submissions: int  # graded submissions that were shown it


@dataclass
class ExerciseReport:
    """The class at one exercise, counting each submission's newest graded run only."""

    submissions: int
    graded: int
    students: int  # who submitted
    mean_score: float | None
    checks: list[CheckTally]
    hints: list[HintTally]


def exercise_report(session: Session, course_id: str, exercise: Exercise, hint_limit: int = 10) -> ExerciseReport:
    rows = scores.scored_submissions(session, course_id=course_id, exercise_id=exercise.id)
    graded = [row.score for row in rows if row.score is not None]
    newest = scores.newest_graded_run_ids().subquery()
    counted = (select(CheckRow).join(newest, newest.c.run_id == CheckRow.run_id)
               .join(Submission, Submission.id == newest.c.submission_id)
               .where(Submission.course_id == course_id, Submission.exercise_id == exercise.id)
               .subquery())
    not_passed = counted.c.verdict != "passed"
    tallies = session.execute(
        select(counted.c.name, func.min(case((counted.c.visible.is_(True), 1), else_=0)), func.count(),
               func.sum(case((not_passed, 1), else_=0)))
        .group_by(counted.c.name).order_by(func.min(counted.c.position), counted.c.name))
    checks = [CheckTally(name, bool(visible), int(runs), int(failed or 0)) for name, visible, runs, failed in tallies]
    hints = session.execute(
        select(counted.c.hint, func.count(), func.count(counted.c.run_id.distinct()))
        .where(not_passed, counted.c.hint.is_not(None), counted.c.hint != "")
        .group_by(counted.c.hint).order_by(func.count().desc(), counted.c.hint).limit(hint_limit))
    return ExerciseReport(len(rows), len(graded), len({row.user_id for row in rows}),
                          sum(graded) / len(graded) if graded else None, checks,
                          [HintTally(hint, int(count), int(runs)) for hint, count, runs in hints])


def pending_runs(session: Session, course_id: str, exercise: Exercise) -> int:
    """Runs of this exercise's submissions still queued or being graded (e.g. a regrade)."""
    return int(session.scalar(
        select(func.count()).select_from(GradingRun).join(Submission, Submission.id == GradingRun.submission_id)
        .where(Submission.course_id == course_id, Submission.exercise_id == exercise.id,
               GradingRun.status.in_((RunStatus.QUEUED.value, RunStatus.RUNNING.value)))) or 0)
