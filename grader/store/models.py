"""SQLAlchemy 2 typed models of the gradebook.

Nothing is ever deleted by grading: a regrade adds a :class:`GradingRun` and a
:class:`Regrade` row that remembers who asked, why, and the score before and after.
Timestamps are stored as naive UTC and handed back as aware UTC (:class:`UTCDateTime`).
"""

from __future__ import annotations

import datetime as dt
import enum
from typing import Any, Optional

from sqlalchemy import (JSON, DateTime, Float, ForeignKey, Index, Integer, LargeBinary, MetaData, String,
                        Text, TypeDecorator, UniqueConstraint)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


class UTCDateTime(TypeDecorator):
    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: Optional[dt.datetime], dialect: Any) -> Optional[dt.datetime]:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(dt.timezone.utc).replace(tzinfo=None)

    def process_result_value(self, value: Optional[dt.datetime], dialect: Any) -> Optional[dt.datetime]:
        return None if value is None else value.replace(tzinfo=dt.timezone.utc)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {dt.datetime: UTCDateTime()}


class Role(str, enum.Enum):
    STUDENT = "student"
    INSTRUCTOR = "instructor"


class RunStatus(str, enum.Enum):
    QUEUED = "queued"
    RUNNING = "running"
    GRADED = "graded"
    FAILED = "failed"


# Lower runs first: a student waiting at the page goes before a bulk regrade.
PRIORITY_INTERACTIVE = 0
PRIORITY_REGRADE = 10


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(320), unique=True)  # stored lower-case
    display_name: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(20), default=Role.STUDENT.value)
    password_hash: Mapped[Optional[str]] = mapped_column(String(200))
    locale: Mapped[Optional[str]] = mapped_column(String(16))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    tokens: Mapped[list["ApiToken"]] = relationship(back_populates="user")
    enrolments: Mapped[list["Enrolment"]] = relationship(back_populates="user")

    @property
    def is_instructor(self) -> bool:
        return self.role == Role.INSTRUCTOR.value


class ApiToken(Base):
    """Only the SHA-256 of a token is kept; the token itself is shown once."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(16))  # shown in listings to tell tokens apart
    name: Mapped[str] = mapped_column(String(100), default="")
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    last_used_at: Mapped[Optional[dt.datetime]]
    revoked_at: Mapped[Optional[dt.datetime]]

    user: Mapped[User] = relationship(back_populates="tokens")


class Course(Base):
    __tablename__ = "courses"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)  # a short slug, e.g. "demo"
    title: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    # Which score a platform's gradebook gets (LTI AGS): the student's "best" or "latest".
    score_policy: Mapped[str] = mapped_column(String(10), default="best", server_default="best")

    enrolments: Mapped[list["Enrolment"]] = relationship(back_populates="course")
    exercises: Mapped[list["CourseExercise"]] = relationship(back_populates="course",
                                                              order_by="CourseExercise.position")


class Enrolment(Base):
    __tablename__ = "enrolments"
    __table_args__ = (UniqueConstraint("course_id", "user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    course_id: Mapped[str] = mapped_column(ForeignKey("courses.id"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    role: Mapped[str] = mapped_column(String(20), default=Role.STUDENT.value)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    course: Mapped[Course] = relationship(back_populates="enrolments")
    user: Mapped[User] = relationship(back_populates="enrolments")


class Exercise(Base):
    """An exercise of the bank as last synced; ``content_hash`` covers checks, driver and toml."""

    __tablename__ = "exercises"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(100), unique=True)
    title: Mapped[str] = mapped_column(String(200))
    summary: Mapped[str] = mapped_column(Text, default="")
    points: Mapped[float] = mapped_column(Float)
    content_hash: Mapped[str] = mapped_column(String(64))
    synced_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class CourseExercise(Base):
    __tablename__ = "course_exercises"

    course_id: Mapped[str] = mapped_column(ForeignKey("courses.id"), primary_key=True)
    exercise_id: Mapped[int] = mapped_column(ForeignKey("exercises.id"), primary_key=True)
    position: Mapped[int] = mapped_column(Integer, default=0)

    course: Mapped[Course] = relationship(back_populates="exercises")
    exercise: Mapped[Exercise] = relationship()


class Submission(Base):
    """The file exactly as submitted; grading never changes or deletes it."""

    __tablename__ = "submissions"
    __table_args__ = (Index(None, "user_id", "exercise_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    course_id: Mapped[str] = mapped_column(ForeignKey("courses.id"), index=True)
    exercise_id: Mapped[int] = mapped_column(ForeignKey("exercises.id"), index=True)
    filename: Mapped[str] = mapped_column(String(255))
    format: Mapped[str] = mapped_column(String(10))  # "py" or "ipynb"
    content: Mapped[bytes] = mapped_column(LargeBinary)
    size: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    origin: Mapped[str] = mapped_column(String(20), default="web")  # web, api, cli, webhook, lti
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    user: Mapped[User] = relationship()
    course: Mapped[Course] = relationship()
    exercise: Mapped[Exercise] = relationship()
    runs: Mapped[list["GradingRun"]] = relationship(back_populates="submission", order_by="GradingRun.id")

    @property
    def text(self) -> str:
        return self.content.decode("utf-8-sig", errors="replace")

    @property
    def latest_run(self) -> Optional["GradingRun"]:
        return self.runs[-1] if self.runs else None


class GradingRun(Base):
    """One grading of one submission. The queue is this table (see ``grader.queue.claims``)."""

    __tablename__ = "grading_runs"
    __table_args__ = (Index(None, "status", "priority", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    submission_id: Mapped[int] = mapped_column(ForeignKey("submissions.id"), index=True)
    status: Mapped[str] = mapped_column(String(16), default=RunStatus.QUEUED.value)
    priority: Mapped[int] = mapped_column(Integer, default=PRIORITY_INTERACTIVE)
    reason: Mapped[str] = mapped_column(String(20), default="submission")  # or "regrade"
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    lease_owner: Mapped[Optional[str]] = mapped_column(String(200))
    lease_expires_at: Mapped[Optional[dt.datetime]]
    queued_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    # GRADER_QUEUE=celery: when the sweeper last sent its message again (None: only the
    # publish after the commit, if any); see ``grader.queue.sweeper``.
    published_at: Mapped[Optional[dt.datetime]]
    started_at: Mapped[Optional[dt.datetime]]
    finished_at: Mapped[Optional[dt.datetime]]
    grading_seconds: Mapped[Optional[float]] = mapped_column(Float)
    score: Mapped[Optional[float]] = mapped_column(Float)
    max_score: Mapped[Optional[float]] = mapped_column(Float)
    result: Mapped[Optional[dict[str, Any]]] = mapped_column(JSON)  # GradeResult.to_dict()
    error: Mapped[Optional[str]] = mapped_column(Text)  # why the run failed, or the last retry's reason
    exercise_hash: Mapped[Optional[str]] = mapped_column(String(64))
    engine_version: Mapped[Optional[str]] = mapped_column(String(40))

    submission: Mapped[Submission] = relationship(back_populates="runs")
    checks: Mapped[list["CheckRow"]] = relationship(back_populates="run", order_by="CheckRow.position")


class CheckRow(Base):
    """One check of a graded run, as a row, so that analytics are plain SQL."""

    __tablename__ = "check_results"
    __table_args__ = (Index(None, "name", "verdict"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("grading_runs.id"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(String(100))
    verdict: Mapped[str] = mapped_column(String(20))
    points: Mapped[float] = mapped_column(Float)
    max_points: Mapped[float] = mapped_column(Float)
    visible: Mapped[bool] = mapped_column(default=True)
    hint: Mapped[Optional[str]] = mapped_column(Text)

    run: Mapped[GradingRun] = relationship(back_populates="checks")


class Regrade(Base):
    __tablename__ = "regrades"

    id: Mapped[int] = mapped_column(primary_key=True)
    submission_id: Mapped[int] = mapped_column(ForeignKey("submissions.id"), index=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("grading_runs.id"), unique=True)
    requested_by_id: Mapped[Optional[int]] = mapped_column(ForeignKey("users.id"))
    requested_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    reason: Mapped[str] = mapped_column(Text, default="")
    old_score: Mapped[Optional[float]] = mapped_column(Float)
    new_score: Mapped[Optional[float]] = mapped_column(Float)

    run: Mapped[GradingRun] = relationship()
    requested_by: Mapped[Optional[User]] = relationship()


# The LMS tables share this metadata (Alembic and the tests compare it with the migrations).
from grader.store import models_lms  # noqa: E402,F401
