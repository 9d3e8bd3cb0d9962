"""Regrading after a check was fixed: a new run per submission, the old runs kept."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from grader.store.models import (PRIORITY_REGRADE, Exercise, GradingRun, Regrade, RunStatus, Submission,
                                 User)


@dataclass
class RegradeReport:
    queued: list[int]  # run ids
    skipped: list[int]  # submission ids that already had a run on its way


def select_submissions(session: Session, *, exercise: str | None = None, user: str | None = None,
                       submission_id: int | None = None, course: str | None = None,
                       everything: bool = False) -> list[Submission]:
    if not (exercise or user or submission_id or everything):
        raise ValueError("say what to regrade: an exercise, a user, a submission, or everything")
    query = select(Submission).options(selectinload(Submission.runs)).order_by(Submission.id)
    if exercise:
        query = query.join(Exercise, Submission.exercise_id == Exercise.id).where(Exercise.slug == exercise)
    if user:
        query = query.join(User, Submission.user_id == User.id).where(User.email == user.strip().lower())
    if submission_id:
        query = query.where(Submission.id == submission_id)
    if course:
        query = query.where(Submission.course_id == course)
    return list(session.scalars(query))


def request_regrade(session: Session, submissions: list[Submission], requested_by: User | None,
                    reason: str = "") -> RegradeReport:
    report = RegradeReport([], [])
    for submission in submissions:
        latest = submission.latest_run
        if latest is not None and latest.status in (RunStatus.QUEUED.value, RunStatus.RUNNING.value):
            report.skipped.append(submission.id)
            continue
        # The score the gradebook counted until now (a failed run has none; see ``scores``).
        previous = next((r for r in reversed(submission.runs) if r.status == RunStatus.GRADED.value), None)
        # Through the relationship, so that ``submission.runs`` sees the new run at once: the
        # same submission asked for twice (in one list or one unit of work) is queued once.
        run = GradingRun(submission=submission, priority=PRIORITY_REGRADE, reason="regrade")
        session.add(run)
        session.flush()
        session.add(Regrade(submission_id=submission.id, run_id=run.id, reason=reason,
                            requested_by_id=requested_by.id if requested_by else None,
                            old_score=previous.score if previous is not None else None))
        report.queued.append(run.id)
    session.flush()
    return report


def history(session: Session, submission_id: int) -> list[Regrade]:
    return list(session.scalars(select(Regrade).where(Regrade.submission_id == submission_id)
                                .order_by(Regrade.id)))


def progress(session: Session, run_ids: list[int]) -> dict[str, int]:
    """How many of ``run_ids`` are in each status."""
    counts = {status.value: 0 for status in RunStatus}
    for chunk in range(0, len(run_ids), 500):
        for status in session.scalars(select(GradingRun.status).where(
                GradingRun.id.in_(run_ids[chunk:chunk + 500]))):
            counts[status] += 1
    return counts
