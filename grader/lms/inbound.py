"""A submission that arrived by webhook: its payload, and taking it in exactly once.

The ``webhook-id`` is stored (UNIQUE per source) in the same transaction as the submission,
its grading run and its reply targets. So a redelivery, even one that arrives at the same
instant as the first or after a restart, finds the first one's row and gets the same
submission back: it is stored once and graded once.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import secrets
from dataclasses import dataclass
from pathlib import PurePath
from typing import Any, Optional

from pydantic import BaseModel, ConfigDict, Field, field_validator
from sqlalchemy import select
from sqlalchemy.orm import Session

from grader.lms import allowlist
from grader.store import accounts, catalog
from grader.store.db import Database
from grader.store.models import Course, Role, Submission, User
from grader.store.models_lms import (ExternalIdentity, InboundMessage, LtiPlatform, ReplyTarget, TargetKind,
                                     WebhookSource)
from grader.store.submissions import ACCEPTED_SUFFIXES, SubmissionRejected, submit

ORIGIN = "webhook"
PLACEHOLDER_DOMAIN = "webhook.invalid"  # RFC 2606: never a real mailbox


# ----------------------------------------------------------------------------- the payload
class _Lenient(BaseModel):
    """Platforms add fields of their own: unknown fields are ignored, known ones validated."""

    model_config = ConfigDict(extra="ignore")


class WebhookUser(_Lenient):
    id: str = Field(min_length=1, max_length=255, description="The platform's user id (a number is taken as text).")
    name: Optional[str] = Field(None, max_length=200, description="Display name for a new account.")
    email: Optional[str] = Field(None, max_length=320, description="Email for a new account, if not taken.")

    @field_validator("id", mode="before")
    @classmethod
    def _number_as_text(cls, value: Any) -> Any:
        return str(value) if isinstance(value, int) and not isinstance(value, bool) else value

    @field_validator("id")
    @classmethod
    def _printable(cls, value: str) -> str:
        if not value.isprintable():
            raise ValueError("must be printable text")
        return value


class WebhookFile(_Lenient):
    name: str = Field(min_length=1, max_length=255, description="File name; .py or .ipynb is graded.")
    content: str = Field(description="The file's text: Python source, or the notebook's JSON "
                                     "(a notebook may also be given as a JSON object).")

    @field_validator("content", mode="before")
    @classmethod
    def _notebook_object_as_text(cls, value: Any) -> Any:
        return json.dumps(value, ensure_ascii=False) if isinstance(value, dict) else value


class LtiAgsReply(_Lenient):
    issuer: str = Field(min_length=1, max_length=255, description="Issuer of a registered LTI platform.")
    client_id: Optional[str] = Field(None, min_length=1, max_length=255,
                                     description="Needed only when the issuer is registered more than once.")
    lineitem: str = Field(min_length=1, max_length=2000, description="The AGS line item URL the score goes to.")

    @field_validator("lineitem")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if allowlist.normalise(value) is None:
            raise ValueError("must be an http(s) URL")
        return value


class ReplyTo(_Lenient):
    callback: Optional[str] = Field(None, min_length=1, max_length=2000,
                                    description="URL for the signed grade.completed event; must start with one "
                                                "of the source's --callback-allow prefixes.")
    lti_ags: Optional[LtiAgsReply] = None


class WebhookPayload(_Lenient):
    """The body of ``POST /api/v1/webhooks/<source>``."""

    model_config = ConfigDict(extra="ignore", json_schema_extra={"examples": [{
        "course": "demo", "assignment": "none-grad-after-rebinding",
        "user": {"id": "u-1234", "name": "Ada Lovelace", "email": "ada@example.edu"},
        "attempt": 1, "submitted_at": "2026-12-01T17:00:00+00:00",
        "files": [{"name": "fix.py", "content": "import torch\n"}],
        "reply_to": {"callback": "https://lms.example.edu/grades/hook"}}]})
    course: str = Field(min_length=1, max_length=64, description="A course id of this instance.")
    assignment: str = Field(min_length=1, max_length=100,
                            description="The exercise slug (it must be in the course).")
    user: WebhookUser
    attempt: Optional[int] = Field(None, ge=1, le=2**31 - 1)
    submitted_at: Optional[dt.datetime] = Field(None, description="ISO-8601, when the student submitted.")
    files: list[WebhookFile] = Field(min_length=1, max_length=100,
                                     description="The first .py or .ipynb file is graded.")
    reply_to: Optional[ReplyTo] = Field(None, description="Where the grade goes: a callback URL, an LTI AGS "
                                                          "line item, or both.")

    def gradable(self) -> tuple[int, WebhookFile]:
        for index, file in enumerate(self.files):
            if PurePath(file.name.replace("\\", "/")).suffix.lower() in ACCEPTED_SUFFIXES:
                return index, file
        raise SubmissionRejected("no_gradable_file", "None of the files is a .py file or a .ipynb notebook.",
                                 "files")


# ----------------------------------------------------------------------------- receiving
@dataclass
class Received:
    submission: Submission
    created: bool


def receive(session: Session, source: WebhookSource, message_id: str, payload: WebhookPayload,
            max_bytes: int) -> Received:
    """Store the message's submission, or return the one an earlier delivery of the same
    ``webhook-id`` stored. Raises SubmissionRejected (field named as in the payload) for a
    payload this instance cannot take; IntegrityError, or ``accounts.EmailTaken`` for a new
    user, when a concurrent delivery of the same message (or user) committed first: then run
    the whole unit of work again (``receive_once``)."""
    source = session.get(WebhookSource, source.id)
    earlier = session.scalar(select(InboundMessage).where(InboundMessage.source_id == source.id,
                                                          InboundMessage.message_id == message_id))
    if earlier is not None:
        return Received(earlier.submission, created=False)
    _check_course_and_assignment(session, payload)
    index, file = payload.gradable()
    targets = _reply_targets(session, source, payload)
    try:
        data = file.content.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate from a "\ud800" escape: no file holds that
        raise SubmissionRejected("not_utf8", "The file's content is not valid Unicode text.",
                                 f"files.{index}.content") from None
    user = _local_user(session, source, payload)
    try:
        accepted = submit(session, user, payload.assignment, file.name, data, max_bytes, origin=ORIGIN,
                          course_id=payload.course)
    except SubmissionRejected as exc:
        exc.field = {"file": f"files.{index}.content", "exercise": "assignment"}.get(exc.field, exc.field)
        raise
    present = {tuple(row) for row in session.execute(select(ReplyTarget.kind, ReplyTarget.url)
                                                     .where(ReplyTarget.submission_id == accepted.submission.id))}
    for target in targets:  # (another entry point, e.g. an LTI grade link, may have added the same one)
        if (target.kind, target.url) not in present:
            target.submission_id = accepted.submission.id
            session.add(target)
    session.add(InboundMessage(source_id=source.id, message_id=message_id, submission_id=accepted.submission.id))
    session.flush()
    return Received(accepted.submission, created=True)


def receive_once(database: Database, source: WebhookSource, message_id: str, payload: WebhookPayload,
                 max_bytes: int) -> Received:
    """``receive`` in its own unit of work, run a second time if a concurrent delivery of the
    same message won the UNIQUE constraint, or a concurrent first delivery for the same
    platform user committed its account after this one found the email free: the second run
    finds the winner's row."""
    return database.unit_of_work_run_again_if_raced(
        lambda session: receive(session, source, message_id, payload, max_bytes), raced=(accounts.EmailTaken,))


def _check_course_and_assignment(session: Session, payload: WebhookPayload) -> None:
    course = session.get(Course, payload.course) if payload.course.isprintable() else None
    if course is None:
        raise SubmissionRejected("unknown_course", f"There is no course {payload.course!r} on this instance.",
                                 "course")
    exercise = catalog.exercise_by_slug(session, payload.assignment)
    if exercise is None or not catalog.in_course(session, course.id, exercise):
        raise SubmissionRejected("unknown_assignment", f"Course {course.id!r} has no exercise "
                                 f"{payload.assignment[:100]!r} (the assignment is an exercise slug).", "assignment")


def _reply_targets(session: Session, source: WebhookSource, payload: WebhookPayload) -> list[ReplyTarget]:
    """The payload's destinations, checked now, so that a grade is never due to a place it
    may not go: a callback and a line item must be on the source's allow-list (no requests
    to internal addresses, no platform token sent elsewhere), a line item must belong to a
    registered platform."""
    reply, subject, targets = payload.reply_to, payload.user.id, []
    if reply is None:
        return targets
    if reply.callback is not None:
        if not allowlist.allowed(reply.callback, list(source.callback_allow or [])):
            raise SubmissionRejected("callback_not_allowed", "The callback URL is not under a prefix this source "
                                     f"may use (grader sources add {source.name} --callback-allow PREFIX).",
                                     "reply_to.callback")
        targets.append(ReplyTarget(kind=TargetKind.CALLBACK.value, url=allowlist.normalise(reply.callback),
                                   source_id=source.id, subject=subject))
    if reply.lti_ags is not None:
        # The score POST carries the platform's access token: a line item off the source's
        # allow-list could hand that token to any host the payload names.
        if not allowlist.allowed(reply.lti_ags.lineitem, list(source.callback_allow or [])):
            raise SubmissionRejected("lineitem_not_allowed", "The line item URL is not under a prefix this source "
                                     f"may use (grader sources add {source.name} --callback-allow PREFIX).",
                                     "reply_to.lti_ags.lineitem")
        platform = _platform(session, reply.lti_ags)
        targets.append(ReplyTarget(kind=TargetKind.LTI_AGS.value, url=reply.lti_ags.lineitem,
                                   platform_id=platform.id, subject=subject))
    return targets


def _platform(session: Session, ags: LtiAgsReply) -> LtiPlatform:
    query = select(LtiPlatform).where(LtiPlatform.issuer == ags.issuer)
    if ags.client_id is not None:
        query = query.where(LtiPlatform.client_id == ags.client_id)
    storable = ags.issuer.isprintable() and (ags.client_id or "").isprintable()  # PostgreSQL refuses NUL
    found = list(session.scalars(query.order_by(LtiPlatform.id))) if storable else []
    if not found:
        raise SubmissionRejected("unknown_platform", f"No LTI platform with issuer {ags.issuer[:255]!r} is "
                                 "registered (grader lti add-platform).", "reply_to.lti_ags.issuer")
    if len(found) > 1:
        raise SubmissionRejected("ambiguous_platform", f"Issuer {ags.issuer!r} is registered with several client "
                                 "ids: name one in client_id.", "reply_to.lti_ags.client_id")
    return found[0]


def _local_user(session: Session, source: WebhookSource, payload: WebhookPayload) -> User:
    """The account bound to the platform's user id, created (as a student, enrolled in the
    course) on the first submission. The platform's email is used only if no account has it:
    a source must not be able to submit as someone else's existing account."""
    issuer, subject = f"webhook:{source.name}", payload.user.id
    identity = session.scalar(select(ExternalIdentity).where(ExternalIdentity.issuer == issuer,
                                                             ExternalIdentity.subject == subject))
    if identity is not None:
        user = identity.user
    else:
        user = _new_user(session, source, payload)
        session.add(ExternalIdentity(issuer=issuer, subject=subject, user_id=user.id))
        session.flush()
    accounts.enrol(session, user, session.get(Course, payload.course), Role.STUDENT.value)
    return user


def _new_user(session: Session, source: WebhookSource, payload: WebhookPayload) -> User:
    name = "".join(ch for ch in (payload.user.name or "") if ch.isprintable()).strip()[:200]
    email = accounts.unused_email(session, payload.user.email)
    if email is None:
        digest = hashlib.sha256(f"{source.name}\0{payload.user.id}".encode()).hexdigest()[:24]
        email = f"{digest}@{source.name}.{PLACEHOLDER_DOMAIN}"
        if accounts.user_by_email(session, email) is not None:  # an identity row was deleted by hand
            email = f"{digest}-{secrets.token_hex(4)}@{source.name}.{PLACEHOLDER_DOMAIN}"
    return accounts.create_user(session, email, name or f"{source.name} user {payload.user.id[:100]}",
                                Role.STUDENT.value)


