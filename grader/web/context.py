"""What views share: the database of the current app, one reading session per request, and
the signed-in user as a small detached object (never a live ORM row in the session cookie)."""

from __future__ import annotations

from dataclasses import dataclass

from flask import abort, current_app, g, request, url_for
from flask_login import current_user
from sqlalchemy.orm import Session

from grader.config import Config
from grader.store.db import Database
from grader.store.models import User


@dataclass
class SignedIn:
    """The Flask-Login user: a copy of the row's fields, loaded once per request."""

    id: int
    email: str
    display_name: str
    role: str
    locale: str | None

    is_authenticated = True
    is_active = True
    is_anonymous = False

    def get_id(self) -> str:
        return str(self.id)

    @property
    def is_instructor(self) -> bool:
        return self.role == "instructor"

    @classmethod
    def of(cls, user: User) -> "SignedIn":
        return cls(user.id, user.email, user.display_name, user.role, user.locale)


def config() -> Config:
    return current_app.config["GRADER"]


def external_url(endpoint: str, **values: object) -> str:
    """An absolute URL others (platforms, scripts) use: under ``base_url`` when it is set
    (behind a proxy the request's own host may be an internal one), else as this request
    came in (through ProxyFix when ``trust_proxy`` is on)."""
    base = config().base_url.rstrip("/")
    if not base:
        return url_for(endpoint, _external=True, **values)
    return base + url_for(endpoint, **values)[len(request.script_root):]


def database() -> Database:
    return current_app.extensions["grader.db"]


def db() -> Session:
    """The request's reading session, closed when the request ends."""
    if "db_session" not in g:
        g.db_session = database().session()
    return g.db_session


def close_db(_exc: BaseException | None = None) -> None:
    session = g.pop("db_session", None)
    if session is not None:
        session.close()


def user_row(session: Session | None = None) -> User:
    """The signed-in user's row, in ``session`` (default: the request's reading session)."""
    row = (session or db()).get(User, current_user.id)
    if row is None:
        abort(401)
    return row


def instructor_required() -> User:
    row = user_row()
    if not row.is_instructor:
        abort(404)
    return row
