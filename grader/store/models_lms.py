"""SQLAlchemy models of the LMS side: webhook sources, LTI platforms, where grades go, the outbox.

The path of a grade to a platform is all rows, so nothing lives only in memory:

- a submission that came from a platform has :class:`ReplyTarget` rows (a callback URL of a
  webhook source, or an LTI AGS line item), written in the same transaction as the
  submission (and, for a webhook, its :class:`InboundMessage`, whose UNIQUE id makes a
  redelivery return the same submission);
- when a run is graded, ``grader.lms.outbox.enqueue_for`` writes one :class:`Delivery`
  per target in the same transaction as the grade; the outbox sender claims due deliveries
  with a lease (like grading runs), sends them, and records every attempt's outcome.
"""

from __future__ import annotations

import datetime as dt
import enum
from typing import Any, Optional

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from grader.store.models import Base, Course, Exercise, GradingRun, Submission, User, utcnow


class TargetKind(str, enum.Enum):
    CALLBACK = "callback"  # a webhook source's callback URL: a signed grade.completed event
    LTI_AGS = "lti_ags"  # an LTI Assignment and Grade Services line item: a score POST


class DeliveryStatus(str, enum.Enum):
    PENDING = "pending"  # waiting for its next attempt (or being sent: see lease_owner)
    DELIVERED = "delivered"
    FAILED = "failed"  # permanent: a 4xx, or the retry horizon passed; shown to instructors
    DISABLED = "disabled"  # the destination answered 410 Gone (or was disabled before)


# ----------------------------------------------------------------------------- webhooks
class WebhookSource(Base):
    """A platform that sends submissions to ``/api/v1/webhooks/<name>`` (``grader sources``)."""

    __tablename__ = "webhook_sources"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    callback_allow: Mapped[list[str]] = mapped_column(JSON, default=list)  # allowed URL prefixes
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    secrets: Mapped[list["WebhookSecret"]] = relationship(back_populates="source", order_by="WebhookSecret.id")


class WebhookSecret(Base):
    """A ``whsec_...`` secret. Several may be valid at once (rotation without downtime); the
    newest signs outbound callbacks. HMAC needs the secret itself, so it is stored as is."""

    __tablename__ = "webhook_secrets"

    id: Mapped[int] = mapped_column(primary_key=True)
    source_id: Mapped[int] = mapped_column(ForeignKey("webhook_sources.id"), index=True)
    secret: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[Optional[dt.datetime]]  # set when a newer secret replaced it

    source: Mapped[WebhookSource] = relationship(back_populates="secrets")


class InboundMessage(Base):
    """A received webhook message: its ``webhook-id`` is UNIQUE per source, and the row is
    written in the same transaction as the submission it created."""

    __tablename__ = "inbound_messages"
    __table_args__ = (UniqueConstraint("source_id", "message_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    source_id: Mapped[int] = mapped_column(ForeignKey("webhook_sources.id"))
    message_id: Mapped[str] = mapped_column(String(255))
    submission_id: Mapped[int] = mapped_column(ForeignKey("submissions.id"), index=True)
    received_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    source: Mapped[WebhookSource] = relationship()
    submission: Mapped[Submission] = relationship()


class ExternalIdentity(Base):
    """A platform's user id bound to a local account. ``issuer`` is an LTI issuer, or
    ``webhook:<source name>`` for a webhook source; ``subject`` the platform's user id."""

    __tablename__ = "external_identities"
    __table_args__ = (UniqueConstraint("issuer", "subject"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    issuer: Mapped[str] = mapped_column(String(255))
    subject: Mapped[str] = mapped_column(String(255))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    user: Mapped[User] = relationship()


# ----------------------------------------------------------------------------- LTI 1.3
class LtiPlatform(Base):
    """A registered LTI 1.3 platform (``grader lti add-platform``); read on every launch, so a
    new registration takes effect without a restart."""

    __tablename__ = "lti_platforms"
    __table_args__ = (UniqueConstraint("issuer", "client_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    issuer: Mapped[str] = mapped_column(String(255))
    client_id: Mapped[str] = mapped_column(String(255))
    deployment_ids: Mapped[list[str]] = mapped_column(JSON, default=list)
    auth_url: Mapped[str] = mapped_column(String(2000))
    token_url: Mapped[str] = mapped_column(String(2000))
    jwks_url: Mapped[str] = mapped_column(String(2000))
    course_id: Mapped[Optional[str]] = mapped_column(ForeignKey("courses.id"))  # launches land here if set
    jwks: Mapped[Optional[dict[str, Any]]] = mapped_column(JSON)  # the platform's keys, last fetched
    jwks_fetched_at: Mapped[Optional[dt.datetime]]
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    course: Mapped[Optional[Course]] = relationship()


class LtiNonce(Base):
    """Each id_token nonce is consumed exactly once (a replayed launch is refused)."""

    __tablename__ = "lti_nonces"

    nonce: Mapped[str] = mapped_column(String(255), primary_key=True)
    expires_at: Mapped[dt.datetime] = mapped_column(index=True)


class LtiContext(Base):
    """A platform's course (context) bound to a local course."""

    __tablename__ = "lti_contexts"
    __table_args__ = (UniqueConstraint("platform_id", "context_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    platform_id: Mapped[int] = mapped_column(ForeignKey("lti_platforms.id"))
    context_id: Mapped[str] = mapped_column(String(255))
    course_id: Mapped[str] = mapped_column(ForeignKey("courses.id"))

    platform: Mapped[LtiPlatform] = relationship()
    course: Mapped[Course] = relationship()


class LtiResourceLink(Base):
    """A resource link (a placement in the platform's course) and the exercise it opens;
    bound by Deep Linking or by the ``exercise`` custom parameter of its first launch."""

    __tablename__ = "lti_resource_links"
    __table_args__ = (UniqueConstraint("platform_id", "resource_link_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    platform_id: Mapped[int] = mapped_column(ForeignKey("lti_platforms.id"))
    resource_link_id: Mapped[str] = mapped_column(String(255))
    exercise_id: Mapped[int] = mapped_column(ForeignKey("exercises.id"))
    lineitem_url: Mapped[Optional[str]] = mapped_column(String(2000))

    platform: Mapped[LtiPlatform] = relationship()
    exercise: Mapped[Exercise] = relationship()


class LtiGradeLink(Base):
    """Where an LTI-launched student's grades for one exercise go: the line item of their
    latest launch, and their ``sub``. Every later submission to that exercise, from any
    entry point, gets an LTI_AGS reply target from this row."""

    __tablename__ = "lti_grade_links"
    __table_args__ = (UniqueConstraint("user_id", "exercise_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    exercise_id: Mapped[int] = mapped_column(ForeignKey("exercises.id"))
    platform_id: Mapped[int] = mapped_column(ForeignKey("lti_platforms.id"))
    context_id: Mapped[Optional[int]] = mapped_column(ForeignKey("lti_contexts.id"))
    lineitem_url: Mapped[str] = mapped_column(String(2000))
    subject: Mapped[str] = mapped_column(String(255))
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    platform: Mapped[LtiPlatform] = relationship()
    context: Mapped[Optional[LtiContext]] = relationship()


# ----------------------------------------------------------------------------- the outbox
class ReplyTarget(Base):
    """Where the grades of one submission go. ``url`` is the callback URL or the line item."""

    __tablename__ = "reply_targets"
    __table_args__ = (UniqueConstraint("submission_id", "kind", "url"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    submission_id: Mapped[int] = mapped_column(ForeignKey("submissions.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))  # TargetKind
    url: Mapped[str] = mapped_column(String(2000))
    source_id: Mapped[Optional[int]] = mapped_column(ForeignKey("webhook_sources.id"))  # CALLBACK
    platform_id: Mapped[Optional[int]] = mapped_column(ForeignKey("lti_platforms.id"))  # LTI_AGS
    subject: Mapped[str] = mapped_column(String(255), default="")  # the platform's user id
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    submission: Mapped[Submission] = relationship()
    source: Mapped[Optional[WebhookSource]] = relationship()
    platform: Mapped[Optional[LtiPlatform]] = relationship()


class Delivery(Base):
    """One grade on its way to one destination: written with the grade, sent by the outbox.

    ``message_id`` is the ``webhook-id`` of every attempt of this delivery (receivers dedupe
    on it). ``sent_timestamp`` is the AGS score timestamp, kept so that a later score to the
    same line item and user is always stamped later."""

    __tablename__ = "deliveries"
    __table_args__ = (UniqueConstraint("run_id", "target_id"), Index(None, "status", "next_attempt_at"))

    id: Mapped[int] = mapped_column(primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("grading_runs.id"), index=True)
    target_id: Mapped[int] = mapped_column(ForeignKey("reply_targets.id"), index=True)
    message_id: Mapped[str] = mapped_column(String(64), unique=True)
    status: Mapped[str] = mapped_column(String(16), default=DeliveryStatus.PENDING.value)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    lease_owner: Mapped[Optional[str]] = mapped_column(String(200))
    lease_expires_at: Mapped[Optional[dt.datetime]]
    last_status: Mapped[Optional[int]] = mapped_column(Integer)  # the last HTTP status, if any
    last_error: Mapped[Optional[str]] = mapped_column(Text)
    sent_timestamp: Mapped[Optional[str]] = mapped_column(String(40))  # AGS: the score's timestamp
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    delivered_at: Mapped[Optional[dt.datetime]]
    replayed_at: Mapped[Optional[dt.datetime]]  # an instructor sent it again: the retry horizon restarts here

    run: Mapped[GradingRun] = relationship()
    target: Mapped[ReplyTarget] = relationship()


class DisabledDestination(Base):
    """A destination that answered 410 Gone: nothing more is sent to it."""

    __tablename__ = "disabled_destinations"
    __table_args__ = (UniqueConstraint("kind", "url"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    url: Mapped[str] = mapped_column(String(2000))
    disabled_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    reason: Mapped[str] = mapped_column(Text, default="")
