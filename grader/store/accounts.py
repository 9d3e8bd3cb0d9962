"""Users, courses, enrolments, passwords (Argon2id) and API tokens (kept as SHA-256 only)."""

from __future__ import annotations

import csv
import hashlib
import io
import secrets
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from grader.store.models import ApiToken, Course, Enrolment, Role, User

TOKEN_PREFIX = "tg_"
_hasher = PasswordHasher()
# Verifying against this keeps the time of a login for an unknown email the same as a real one.
_DUMMY_HASH = _hasher.hash("not a password")


class AccountError(Exception):
    """A request about accounts that cannot be met; the message says why."""


class EmailTaken(AccountError):
    """``create_user`` for an email an account already has (perhaps committed a moment ago
    by a concurrent request)."""


def normalise_email(email: str) -> str:
    email = (email or "").strip().lower()
    local, _, domain = email.rpartition("@")
    if not local or not domain or len(email) > 320 or not email.isprintable() or any(c.isspace() for c in email):
        raise AccountError(f"{email!r} is not an email address")
    return email


def generate_password() -> str:
    return secrets.token_urlsafe(12)


def create_user(session: Session, email: str, display_name: str = "", role: str = Role.STUDENT.value,
                password: str | None = None) -> User:
    email = normalise_email(email)
    if role not in (Role.STUDENT.value, Role.INSTRUCTOR.value):
        raise AccountError(f"role must be student or instructor, not {role!r}")
    if session.scalar(select(User).where(User.email == email)) is not None:
        raise EmailTaken(f"a user with email {email} exists already")
    display_name = display_name.strip()
    if len(display_name) > 200 or "\x00" in display_name:
        raise AccountError("a display name has at most 200 characters and no NUL")
    user = User(email=email, display_name=display_name or email.split("@")[0], role=role)
    if password is not None:
        set_password(user, password)
    session.add(user)
    session.flush()
    return user


def set_password(user: User, password: str) -> None:
    if len(password) < 8:
        raise AccountError("a password needs at least 8 characters")
    user.password_hash = _hasher.hash(password)


def set_locale(session: Session, user_id: int, locale: str | None) -> None:
    """The user's language for pages and feedback (None: follow the browser)."""
    user = session.get(User, user_id)
    if user is not None:
        user.locale = locale


def authenticate(session: Session, email: str, password: str) -> User | None:
    """The user whose email and password these are, else None (in about the same time)."""
    try:
        email = normalise_email(email)
    except AccountError:
        email = ""
    user = session.scalar(select(User).where(User.email == email)) if email else None
    stored = user.password_hash if user is not None and user.password_hash else _DUMMY_HASH
    try:
        _hasher.verify(stored, password or "")
    except (VerificationError, InvalidHashError):
        return None
    if user is None or not user.password_hash:
        return None
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = _hasher.hash(password)
    return user


def user_by_email(session: Session, email: str) -> User | None:
    try:
        return session.scalar(select(User).where(User.email == normalise_email(email)))
    except AccountError:
        return None


def unused_email(session: Session, email: object) -> str | None:
    """``email`` normalised, if it is an address and no account has it; else None. A platform
    (webhook source, LTI) may name the email of its new user, but never take over the account
    that already has that address here."""
    if not isinstance(email, str) or not email:
        return None
    try:
        normalised = normalise_email(email)
    except AccountError:
        return None
    return normalised if user_by_email(session, normalised) is None else None


def create_token(session: Session, user: User, name: str = "") -> str:
    """A new API token for ``user``. Returns the token; only its hash is stored."""
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    session.add(ApiToken(user_id=user.id, token_hash=_token_hash(token), prefix=token[:10], name=name))
    session.flush()
    return token


def user_for_token(session: Session, token: str) -> User | None:
    if not token or not token.startswith(TOKEN_PREFIX) or len(token) > 200:
        return None
    return session.scalar(select(User).join(ApiToken, ApiToken.user_id == User.id)
                          .where(ApiToken.token_hash == _token_hash(token), ApiToken.revoked_at.is_(None)))


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def ensure_course(session: Session, course_id: str, title: str | None = None) -> Course:
    course = session.get(Course, course_id)
    if course is None:
        course = Course(id=course_id, title=title or course_id)
        session.add(course)
        session.flush()
    return course


def course(session: Session, course_id: str) -> Course:
    found = session.get(Course, course_id)
    if found is None:
        known = ", ".join(session.scalars(select(Course.id).order_by(Course.id))) or "none"
        raise AccountError(f"there is no course {course_id!r} (courses: {known})")
    return found


def enrol(session: Session, user: User, course: Course, role: str | None = None) -> Enrolment:
    existing = session.scalar(select(Enrolment).where(Enrolment.user_id == user.id,
                                                     Enrolment.course_id == course.id))
    if existing is not None:
        return existing
    enrolment = Enrolment(user_id=user.id, course_id=course.id, role=role or user.role)
    session.add(enrolment)
    session.flush()
    return enrolment


def courses_of(session: Session, user: User) -> list[Course]:
    return list(session.scalars(select(Course).join(Enrolment).where(Enrolment.user_id == user.id)
                                .order_by(Course.id)))


@dataclass
class RosterReport:
    created: list[tuple[str, str]]  # (email, generated password)
    enrolled: list[str]  # existing users newly enrolled or already there
    errors: list[str]  # "line 3: ..." for lines that were skipped


def import_roster(session: Session, text: str, course: Course) -> RosterReport:
    """Students from CSV ``email,name`` (a header line is optional). New users get a
    generated password, returned once in the report."""
    report = RosterReport([], [], [])
    # A spreadsheet's export often starts with a byte order mark, or with blank lines.
    reader = csv.reader(io.StringIO(text.removeprefix("\ufeff")))
    first = True
    for number, row in enumerate(reader, start=1):
        if not row or not any(cell.strip() for cell in row):
            continue
        header, first = first and row[0].strip().lstrip("\ufeff").lower() == "email", False
        if header:
            continue
        email, name = row[0], (row[1] if len(row) > 1 else "")
        try:
            existing = user_by_email(session, email)
            if existing is None:
                password = generate_password()
                user = create_user(session, email, name, Role.STUDENT.value, password)
                report.created.append((user.email, password))
            else:
                user = existing
                report.enrolled.append(user.email)
            enrol(session, user, course)
        except AccountError as exc:
            report.errors.append(f"line {number}: {exc}")
    return report
