"""The bank as the database knows it: exercises synced with a content hash, course lists."""

from __future__ import annotations

import hashlib

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from grader.engine.bank import Bank
from grader.engine.bank import Exercise as BankExercise
from grader.store.models import Course, CourseExercise, Exercise, utcnow


def content_hash(exercise: BankExercise) -> str:
    """SHA-256 over what decides a grade: ``exercise.toml``, the driver and every Python
    module of the checks package (``checks.py`` and its siblings), in a fixed order."""
    digest = hashlib.sha256()
    folder = exercise.folder
    names = ["exercise.toml", "driver.py"] + sorted(
        p.name for p in folder.glob("*.py") if p.name not in ("driver.py", "stub.py"))
    for name in names:
        digest.update(name.encode() + b"\0" + (folder / name).read_bytes() + b"\0")
    return digest.hexdigest()


def sync_exercises(session: Session, bank: Bank) -> list[Exercise]:
    """Insert or update one row per exercise of the bank; returns them in bank order.
    Exercises that left the bank keep their rows (old submissions still point at them)."""
    rows = []
    for exercise in bank.exercises():
        row = session.scalar(select(Exercise).where(Exercise.slug == exercise.slug))
        digest = content_hash(exercise)
        if row is None:
            row = Exercise(slug=exercise.slug, title=exercise.title, summary=exercise.summary,
                           points=float(exercise.points), content_hash=digest)
            session.add(row)
        elif (row.content_hash, row.title, row.summary, row.points) != (
                digest, exercise.title, exercise.summary, float(exercise.points)):
            row.content_hash, row.title, row.summary = digest, exercise.title, exercise.summary
            row.points, row.synced_at = float(exercise.points), utcnow()
        rows.append(row)
    session.flush()
    return rows


def exercise_by_slug(session: Session, slug: str | None) -> Exercise | None:
    """The exercise, or None. A slug no exercise can have (empty, over 100 characters, or
    unprintable: PostgreSQL refuses a NUL in a query outright) is never sent to the database."""
    if not slug or len(slug) > 100 or not slug.isprintable():
        return None
    return session.scalar(select(Exercise).where(Exercise.slug == slug))


def add_to_course(session: Session, course: Course, exercises: list[Exercise]) -> None:
    present = set(session.scalars(select(CourseExercise.exercise_id)
                                  .where(CourseExercise.course_id == course.id)))
    position = session.scalar(select(func.count()).select_from(CourseExercise)
                              .where(CourseExercise.course_id == course.id)) or 0
    for exercise in exercises:
        if exercise.id not in present:
            session.add(CourseExercise(course_id=course.id, exercise_id=exercise.id, position=position))
            position += 1
    session.flush()


def course_exercises(session: Session, course_id: str) -> list[Exercise]:
    return list(session.scalars(select(Exercise).join(CourseExercise)
                                .where(CourseExercise.course_id == course_id)
                                .order_by(CourseExercise.position)))


def in_course(session: Session, course_id: str, exercise: Exercise) -> bool:
    return session.get(CourseExercise, (course_id, exercise.id)) is not None
