"""The first start of an empty instance: a demo course with the whole bank, one instructor and
one student. Their passwords are returned to the caller to print once; they are never logged."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from grader.engine.bank import Bank
from grader.store import accounts, catalog
from grader.store.models import Role, User

DEMO_COURSE = "demo"


@dataclass
class DemoAccount:
    role: str
    email: str
    password: str


def seed_if_empty(session: Session, bank: Bank, course_id: str = DEMO_COURSE) -> list[DemoAccount]:
    exercises = catalog.sync_exercises(session, bank)
    if session.scalar(select(func.count()).select_from(User)):
        return []
    course = accounts.ensure_course(session, course_id, "Demo course: PyTorch autograd")
    catalog.add_to_course(session, course, exercises)
    made = []
    for role, email, name in ((Role.INSTRUCTOR.value, "instructor@example.com", "Demo Instructor"),
                              (Role.STUDENT.value, "student@example.com", "Demo Student")):
        password = accounts.generate_password()
        user = accounts.create_user(session, email, name, role, password)
        accounts.enrol(session, user, course, role)
        made.append(DemoAccount(role, email, password))
    return made
