"""Taking a submission in and reading it back.

``submit`` stores the file exactly as sent and its first grading run in the caller's unit of
work: both are committed together, before any worker can see either. Nothing here runs the
student's code; the file is only decoded (and a notebook parsed) to reject what could never
be graded, with a sentence the student can act on.
"""

from __future__ import annotations

import functools
import hashlib
from dataclasses import dataclass
from pathlib import PurePath

from sqlalchemy import and_, bindparam, exists, func, or_, select
from sqlalchemy.orm import Session, selectinload

from grader.i18n.text import N_, T, Text, as_sentence
from grader.engine.source import SubmissionError, parse_submission
from grader.store.models import (PRIORITY_INTERACTIVE, Course, CourseExercise, Enrolment, Exercise, GradingRun,
                                 RunStatus, Submission, User)

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
    position: int  # the run's place in the queue when it was stored: 1 = graded next


@dataclass(frozen=True)
class _Intake:
    """What taking a submission in needs to know, read in one statement (see ``_intake``)."""

    exercise_id: int
    first_course: str | None  # the first of the user's courses (in enrolment order) with the exercise
    course_exists: bool  # the course the caller named ...
    enrolled: bool  # ... the user is enrolled in it ...
    course_has_exercise: bool  # ... and it has the exercise
    lti_link: "LtiLink | None"
    queued_ahead: int


@dataclass(frozen=True)
class LtiLink:
    """Where an LTI-launched student's grades for this exercise go (an ``LtiGradeLink``)."""

    lineitem_url: str
    platform_id: int
    subject: str


def submit(session: Session, user: User, exercise_slug: str, filename: str, data: bytes,
           max_bytes: int, origin: str = "web", course_id: str | None = None) -> Accepted:
    intake = _read_intake(session, user, exercise_slug, course_id)
    course = _course_for(user, exercise_slug, course_id, intake)
    filename = _clean_filename(filename)
    validate_file(filename, data, max_bytes)
    submission = Submission(user_id=user.id, course_id=course, exercise_id=intake.exercise_id, filename=filename,
                            format=PurePath(filename).suffix.lower().lstrip("."), content=data,
                            size=len(data), sha256=hashlib.sha256(data).hexdigest(), origin=origin)
    run = GradingRun(submission=submission, priority=PRIORITY_INTERACTIVE, reason="submission")
    session.add_all([submission, run])
    session.flush()  # both INSERTs in one flush
    if intake.lti_link is not None:
        from grader.lms.lti.targets import attach_lti_target  # here: the LMS layer imports the store

        attach_lti_target(session, submission, intake.lti_link)
    return Accepted(submission, run, intake.queued_ahead + 1)


def _read_intake(session: Session, user: User, exercise_slug: str, course_id: str | None) -> _Intake:
    """The exercise, the course and the LTI link of a new submission, and the queue ahead of
    it: one prebuilt statement instead of five, on the path of every submission. A slug or a
    course id no row can have is never sent (PostgreSQL refuses a NUL in a query outright)."""
    if not _storable(exercise_slug, 100):
        raise _unknown_exercise(exercise_slug)
    named = course_id if course_id is not None and _storable(course_id, 64) else None
    row = session.execute(_intake(), {"slug": exercise_slug, "user_id": user.id, "course_id": named,
                                      "priority": PRIORITY_INTERACTIVE}).first()
    if row is None:
        raise _unknown_exercise(exercise_slug)
    link = LtiLink(row.lineitem_url, row.platform_id, row.subject) if row.lineitem_url is not None else None
    return _Intake(row.exercise_id, row.first_course, bool(row.course_exists), bool(row.enrolled),
                   bool(row.course_has_exercise), link, int(row.queued_ahead or 0))


@functools.cache
def _intake():  # noqa: ANN202 - a SQLAlchemy Select
    """Built once per process with bind parameters, so SQLAlchemy compiles it once (see
    ``grader.queue.claims`` for the same on the path of every grade). The queue ahead is
    counted before the new run exists: the queued runs of the same or a higher priority."""
    from grader.store.models_lms import LtiGradeLink

    exercise, enrolment, listed = Exercise.__table__, Enrolment.__table__, CourseExercise.__table__
    link, runs, courses = LtiGradeLink.__table__, GradingRun.__table__, Course.__table__
    user_id, course_id = bindparam("user_id"), bindparam("course_id")
    first_course = (select(enrolment.c.course_id)
                    .join(listed, and_(listed.c.course_id == enrolment.c.course_id,
                                       listed.c.exercise_id == exercise.c.id))
                    .where(enrolment.c.user_id == user_id).order_by(enrolment.c.id).limit(1).scalar_subquery())
    ahead = (select(func.count()).select_from(runs)
             .where(runs.c.status == RunStatus.QUEUED.value, runs.c.priority <= bindparam("priority"))
             .scalar_subquery())
    return (select(exercise.c.id.label("exercise_id"), first_course.label("first_course"),
                   exists().where(courses.c.id == course_id).label("course_exists"),
                   exists().where(enrolment.c.user_id == user_id, enrolment.c.course_id == course_id).label("enrolled"),
                   exists().where(listed.c.course_id == course_id,
                                  listed.c.exercise_id == exercise.c.id).label("course_has_exercise"),
                   link.c.lineitem_url, link.c.platform_id, link.c.subject, ahead.label("queued_ahead"))
            .select_from(exercise.outerjoin(link, and_(link.c.exercise_id == exercise.c.id, link.c.user_id == user_id)))
            .where(exercise.c.slug == bindparam("slug")))


def _unknown_exercise(slug: str | None) -> SubmissionRejected:
    return SubmissionRejected("unknown_exercise", T("There is no exercise {slug!r}.", slug=(slug or "")[:100]),
                              "exercise")


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


def _course_for(user: User, exercise_slug: str, course_id: str | None, intake: _Intake) -> str:
    """The course the submission counts in: the one named (the user must be enrolled in it,
    or teach, and it must have the exercise), else the first of the user's courses with it."""
    if course_id is not None:
        if not intake.course_exists or not (user.is_instructor or intake.enrolled):
            raise SubmissionRejected("unknown_course", T("You are not enrolled in a course {course!r}.",
                                                         course=course_id[:64]), "course")
        if not intake.course_has_exercise:
            raise SubmissionRejected("unknown_exercise", T("Course {course!r} has no exercise {slug!r}.",
                                                            course=course_id, slug=exercise_slug), "exercise")
        return course_id
    if intake.first_course is not None:
        return intake.first_course
    raise SubmissionRejected("unknown_exercise", T("None of your courses has the exercise {slug!r}.",
                                                   slug=exercise_slug), "exercise")


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
