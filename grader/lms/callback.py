"""The signed ``grade.completed`` event to a webhook source's callback URL.

Signed as Standard Webhooks: ``webhook-id`` is the delivery's message id (the same on every
retry, so the receiver can drop repeats), ``webhook-timestamp`` the moment of this attempt
(so a retry a day later is not refused as stale), and ``webhook-signature`` an HMAC with the
source's newest valid secret. The URL is checked against the source's allow-list again right
before sending: the list may have shrunk since the submission came in.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import TYPE_CHECKING, Any

from sqlalchemy import or_, select
from standardwebhooks.webhooks import Webhook

from grader.lms import http
from grader.lms.allowlist import allowed
from grader.lms.outcome import Outcome, of_answer, of_failure
from grader.store.models import utcnow
from grader.store.models_lms import Delivery, WebhookSecret

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from grader.config import Config
    from grader.store.db import Database

EVENT_TYPE = "grade.completed"


class _Refused(Exception):
    """Nothing can be sent (permanent): the message says why."""


def send(database: "Database", config: "Config", delivery_id: int) -> Outcome:
    try:
        with database.reading() as session:
            url, message_id, secret, body = _prepare(session, delivery_id)
    except _Refused as exc:
        return Outcome(error=str(exc), permanent=True)
    now = utcnow()
    headers = {"webhook-id": message_id, "webhook-timestamp": str(int(now.timestamp())),
               "webhook-signature": Webhook(secret).sign(message_id, now, body),
               "Content-Type": "application/json"}
    try:
        answer = http.post(url, data=body.encode("utf-8"), headers=headers, timeout=config.delivery_timeout_seconds)
    except http.HttpError as exc:
        return of_failure(str(exc))
    return of_answer(answer.status, answer.headers, answer.body)


def _prepare(session: "Session", delivery_id: int) -> tuple[str, str, str, str]:
    delivery = session.get(Delivery, delivery_id)
    if delivery is None:
        raise _Refused(f"there is no delivery {delivery_id}")
    target = delivery.target
    source = target.source
    if source is None:
        raise _Refused("the callback's webhook source no longer exists")
    if not allowed(target.url, list(source.callback_allow or [])):
        raise _Refused(f"the callback URL is not on the allow-list of source {source.name!r}; nothing was sent")
    secret = newest_secret(session, source.id)
    if secret is None:
        raise _Refused(f"source {source.name!r} has no valid secret to sign with (add one: grader sources rotate)")
    return target.url, delivery.message_id, secret, json.dumps(event(delivery), separators=(",", ":"))


def newest_secret(session: "Session", source_id: int, now: dt.datetime | None = None) -> str | None:
    """The secret that signs outbound events: the newest one that has not expired."""
    now = now or utcnow()
    return session.scalar(select(WebhookSecret.secret).where(
        WebhookSecret.source_id == source_id,
        or_(WebhookSecret.expires_at.is_(None), WebhookSecret.expires_at > now)).order_by(WebhookSecret.id.desc())
        .limit(1))


def event(delivery: Delivery) -> dict[str, Any]:
    """The ``grade.completed`` event of a delivery's run (the same body on every retry)."""
    run, target = delivery.run, delivery.target
    submission = run.submission
    graded_at = _iso(run.finished_at or delivery.created_at)
    return {
        "type": EVENT_TYPE,
        "timestamp": graded_at,
        "data": {
            "submission_id": submission.id,
            "user": {"id": target.subject},
            "course": submission.course_id,
            "assignment": submission.exercise.slug,
            "score": run.score,
            "max_score": run.max_score,
            "checks": [{"name": c.name, "verdict": c.verdict, "points": c.points, "max_points": c.max_points}
                       for c in run.checks],
            "graded_at": graded_at,
        },
    }


def _iso(moment: dt.datetime) -> str:
    return moment.astimezone(dt.timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")
