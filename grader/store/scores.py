"""The score each submission counts for: that of its newest graded run (a regrade replaces
the score shown, and the old runs stay in the history)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from grader.store.models import GradingRun, RunStatus, Submission


@dataclass(frozen=True)
class Scored:
    submission_id: int
    user_id: int
    exercise_id: int
    course_id: str
    created_at: dt.datetime
    score: float | None  # None: not graded yet (or its only runs failed)
    max_score: float | None


def newest_graded_run_ids() -> Select:
    return (select(GradingRun.submission_id, func.max(GradingRun.id).label("run_id"))
            .where(GradingRun.status == RunStatus.GRADED.value).group_by(GradingRun.submission_id))


def scored_submissions(session: Session, *, user_id: int | None = None, course_id: str | None = None,
                       exercise_id: int | None = None) -> list[Scored]:
    newest = newest_graded_run_ids().subquery()
    query = (select(Submission.id, Submission.user_id, Submission.exercise_id, Submission.course_id,
                    Submission.created_at, GradingRun.score, GradingRun.max_score)
             .outerjoin(newest, newest.c.submission_id == Submission.id)
             .outerjoin(GradingRun, GradingRun.id == newest.c.run_id)
             .order_by(Submission.id))
    if user_id is not None:
        query = query.where(Submission.user_id == user_id)
    if course_id is not None:
        query = query.where(Submission.course_id == course_id)
    if exercise_id is not None:
        query = query.where(Submission.exercise_id == exercise_id)
    return [Scored(*row) for row in session.execute(query)]


@dataclass
class Progress:
    attempts: int = 0
    best: float | None = None
    latest: float | None = None
    max_score: float | None = None
    last_submitted: dt.datetime | None = None


def progress_by(rows: list[Scored], key) -> dict:  # noqa: ANN001
    """Fold scored submissions (in id order) into attempts, best and latest score per ``key(row)``."""
    out: dict = {}
    for row in rows:
        entry = out.setdefault(key(row), Progress())
        entry.attempts += 1
        entry.last_submitted = row.created_at
        if row.score is not None:
            entry.latest, entry.max_score = row.score, row.max_score
            entry.best = row.score if entry.best is None else max(entry.best, row.score)
    return out
