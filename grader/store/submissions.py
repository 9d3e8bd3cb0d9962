"""Taking a submission in and reading it back.

``submit`` stores the file exactly as sent and its first grading run in the caller's unit of
work: both are committed together, before any worker can see either. Nothing here runs the
student's code; the file is only decoded (and a notebook parsed) to reject what could never
be graded, with a sentence the student can act on.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import PurePath

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session, selectinload

from grader.i18n.text import N_, T, Text, as_sentence
from grader.engine.source import SubmissionError, parse_submission
from grader.store import catalog
from grader.store.models import (PRIORITY_INTERACTIVE, Course, CourseExercise, Enrolment, GradingRun, RunStatus,
                                 Submission, User)

ACCEPTED_SUFFIXES = (".py", ".ipynb")
MAX_ID = 2**31 - 1  # the largest INTEGER primary key PostgreSQL stores


class SubmissionRejected(Exception):
    """A submission that cannot be taken in. ``code`` and ``field`` are stable identifiers for
    the API; ``status`` is the HTTP status an edge should answer with."""

    def __init__(self, code: str, message: "str | Text", field: str | None = None, status: int = 422):
        super().__init__(str(message))
        self.code, self.message, self.field, self.status = code, str(message), field, status
        self.text = message  # the sentence, translatable at the edge


@dataclass
class Accepted:
    submission: Submission
    run: GradingRun


def submit(session: Session, user: User, exercise_slug: str, filename: str, data: bytes,
           max_bytes: int, origin: str = "web", course_id: str | None = None) -> Accepted:
    exercise = catalog.exercise_by_slug(session, exercise_slug)
    if exercise is None:
        raise SubmissionRejected("unknown_exercise", T("There is no exercise {slug!r}.", slug=(exercise_slug or '')[:100]),
                                 "exercise")
    course = _course_for(session, user, exercise, course_id)
    filename = _clean_filename(filename)
    validate_file(filename, data, max_bytes)
    submission = Submission(user_id=user.id, course_id=course.id, exercise_id=exercise.id, filename=filename,
                            format=PurePath(filename).suffix.lower().lstrip("."), content=data,
                            size=len(data), sha256=hashlib.sha256(data).hexdigest(), origin=origin)
    session.add(submission)
    session.flush()
    run = GradingRun(submission_id=submission.id, priority=PRIORITY_INTERACTIVE, reason="submission")
    session.add(run)
    session.flush()
    from grader.lms.lti.targets import attach_lti_targets  # here: the LMS layer imports the store

    attach_lti_targets(session, submission)
    return Accepted(submission, run)


def validate_file(filename: str, data: bytes, max_bytes: int) -> None:
    suffix = PurePath(filename).suffix.lower()
    if suffix not in ACCEPTED_SUFFIXES:
        raise SubmissionRejected("unsupported_type", T("Cannot grade a {suffix} file: submit a .py file or a "
                                                       ".ipynb notebook.", suffix=suffix) if suffix else
                                 N_("Cannot grade an extensionless file: submit a .py file or a .ipynb notebook."),
                                 "file", 415)
    if len(data) > max_bytes:
        raise SubmissionRejected("too_large", T("The file is larger than {size} KiB.", size=max_bytes // 1024),
                                 "file", 413)
    if not data.strip():
        raise SubmissionRejected("empty_file", N_("The file is empty."), "file", 422)
    try:
        parse_submission(filename, data)
    except SubmissionError as exc:
        message = str(exc)
        code = ("not_utf8" if "UTF-8" in message else "binary_file" if "NUL" in message
                else "bad_notebook" if suffix == ".ipynb" else "unreadable")
        raise SubmissionRejected(code, as_sentence(exc.text), "file", 422) from None


def _storable(text: str | None, limit: int) -> bool:
    """Text a lookup may be sent to the database with: PostgreSQL refuses NUL characters and
    lone surrogates outright, and no course id is that long or unprintable."""
    return bool(text) and len(text) <= limit and text.isprintable()


def _clean_filename(filename: str) -> str:
    name = PurePath((filename or "").replace("\\", "/")).name
    name = "".join(ch for ch in name if ch.isprintable()).strip()
    return name[:200] or "submission.py"


def _course_for(session: Session, user: User, exercise, course_id: str | None) -> Course:  # noqa: ANN001
    enrolled = select(Enrolment.course_id).where(Enrolment.user_id == user.id)
    if course_id is not None:
        course = session.get(Course, course_id) if _storable(course_id, 64) else None
        if course is None or (not user.is_instructor and course_id not in set(session.scalars(enrolled))):
            raise SubmissionRejected("unknown_course", T("You are not enrolled in a course {course!r}.", course=course_id[:64]),
                                     "course")
        if not catalog.in_course(session, course_id, exercise):
            raise SubmissionRejected("unknown_exercise", T("Course {course!r} has no exercise {slug!r}.",
                                                            course=course_id, slug=exercise.slug), "exercise")
        return course
    # the first of the student's courses (in enrolment order) that has the exercise, in one query
    first = session.scalars(select(Course).join(Enrolment, Enrolment.course_id == Course.id)
                            .join(CourseExercise, and_(CourseExercise.course_id == Course.id,
                                                       CourseExercise.exercise_id == exercise.id))
                            .where(Enrolment.user_id == user.id).order_by(Enrolment.id).limit(1)).first()
    if first is not None:
        return first
    raise SubmissionRejected("unknown_exercise", T("None of your courses has the exercise {slug!r}.", slug=exercise.slug),
                             "exercise")


# ----------------------------------------------------------------------------- reading
def get_for(session: Session, user: User, submission_id: int) -> Submission | None:
    """The submission if ``user`` may see it: their own, or any for an instructor of its
    course. Everyone else gets None, exactly as for an id that does not exist (so does an id
    too large for the column, which the database would refuse)."""
    if not 0 < submission_id <= MAX_ID:
        return None
    submission = session.get(Submission, submission_id, options=[selectinload(Submission.runs)])
    if submission is None:
        return None
    if submission.user_id == user.id:
        return submission
    if user.is_instructor and can_teach(session, user, submission.course_id):
        return submission
    return None


def can_teach(session: Session, user: User, course_id: str) -> bool:
    if not user.is_instructor:
        return False
    return session.scalar(select(func.count()).select_from(Enrolment).where(
        Enrolment.user_id == user.id, Enrolment.course_id == course_id)) > 0


def history(session: Session, user: User, exercise_id: int) -> list[Submission]:
    return list(session.scalars(select(Submission).options(selectinload(Submission.runs))
                                .where(Submission.user_id == user.id, Submission.exercise_id == exercise_id)
                                .order_by(Submission.id.desc())))


def shown_result(submission: Submission) -> GradingRun | None:
    """The run whose score is shown: the newest graded one (the one the gradebook counts, see
    ``scores``); a submission that was never graded shows its newest failed run, if any."""
    finished = [run for run in submission.runs if run.status in (RunStatus.GRADED.value, RunStatus.FAILED.value)]
    graded = [run for run in finished if run.status == RunStatus.GRADED.value]
    return (graded or finished or [None])[-1]


def queue_position(session: Session, run: GradingRun) -> int | None:
    """1 for the next run a worker will claim; None once the run is no longer queued."""
    if run.status != RunStatus.QUEUED.value:
        return None
    ahead = session.scalar(select(func.count()).select_from(GradingRun).where(
        GradingRun.status == RunStatus.QUEUED.value,
        or_(GradingRun.priority < run.priority,
            and_(GradingRun.priority == run.priority, GradingRun.id < run.id))))
    return int(ahead or 0) + 1


def queue_length(session: Session) -> int:
    return int(session.scalar(select(func.count()).select_from(GradingRun)
                              .where(GradingRun.status == RunStatus.QUEUED.value)) or 0)
