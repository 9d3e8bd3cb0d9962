"""Webhook sources: the platforms that send submissions to ``/api/v1/webhooks/<name>``.

A source holds one or more ``whsec_`` secrets. Rotating adds a new one and gives the old
ones an expiry instead of deleting them, so a platform can switch over while both verify
(rotation without downtime); the newest valid secret signs our outbound callbacks.

Verification follows the Standard Webhooks scheme (``webhook-id``, ``webhook-timestamp``,
``webhook-signature``; HMAC-SHA256) through the ``standardwebhooks`` library. Every problem
becomes a :class:`WebhookRefused` with a stable reason code: the library raises ``ValueError``
and friends (not its own error) on malformed headers, so nothing it raises escapes as a 500.
"""

from __future__ import annotations

import base64
import datetime as dt
import re
import secrets as random
from typing import Mapping

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from grader.lms import allowlist
from grader.store.models import utcnow
from grader.store.models_lms import WebhookSecret, WebhookSource

SECRET_PREFIX = "whsec_"
NAME_PATTERN = re.compile(r"[a-z0-9][a-z0-9_-]{0,63}")
DEFAULT_GRACE = dt.timedelta(hours=24)
MAX_MESSAGE_ID = 255  # the column's width
# One entry of the signature header: "v1,<base64>" (other versions are skipped, as the spec says).
_SIGNATURE_ENTRY = re.compile(r"v[0-9]+[a-z]*,[A-Za-z0-9+/]+={0,2}")


class SourceError(Exception):
    """A request about sources that cannot be met; the message says why."""


class WebhookRefused(Exception):
    """A webhook that must not be accepted. ``reason`` is one of ``unknown_source``,
    ``missing_headers``, ``malformed_signature``, ``stale_timestamp``, ``bad_signature``;
    ``field`` the header (or ``source``) at fault."""

    FIELDS = {"missing_headers": None, "stale_timestamp": "webhook-timestamp", "bad_signature": "webhook-signature",
              "malformed_signature": "webhook-signature", "unknown_source": "source"}

    def __init__(self, reason: str, message: str, field: str | None = None):
        super().__init__(message)
        self.reason, self.message = reason, message
        self.field = field or self.FIELDS.get(reason)


# ----------------------------------------------------------------------------- managing
def new_secret() -> str:
    """``whsec_`` + base64 of 32 random bytes: the format every Standard Webhooks library reads."""
    return SECRET_PREFIX + base64.b64encode(random.token_bytes(32)).decode("ascii")


def check_name(name: str) -> str:
    if not isinstance(name, str) or not NAME_PATTERN.fullmatch(name):
        raise SourceError(f"{name!r} is not a source name: use 1-64 lower-case letters, digits, '-' or '_', "
                          "starting with a letter or digit (e.g. canvas-main)")
    return name


def check_prefixes(prefixes: list[str]) -> list[str]:
    """The allow-list, normalised; a prefix that is no plain http(s) URL is refused by name."""
    normalised = []
    for prefix in prefixes:
        clean = allowlist.normalise(prefix)
        if clean is None:
            raise SourceError(f"{prefix!r} is not an http(s) URL prefix (e.g. https://lms.example.edu/grades/)")
        if clean not in normalised:
            normalised.append(clean)
    return normalised


def add_source(session: Session, name: str, callback_allow: list[str] | None = None) -> tuple[WebhookSource, str]:
    """A new source and its first secret (returned once: show it, it is not shown again)."""
    check_name(name)
    allowed = check_prefixes(list(callback_allow or []))
    if source_by_name(session, name) is not None:
        raise SourceError(f"a source named {name!r} exists already (new secret: grader sources rotate {name})")
    source = WebhookSource(name=name, callback_allow=allowed)
    session.add(source)
    session.flush()
    secret = new_secret()
    session.add(WebhookSecret(source_id=source.id, secret=secret))
    session.flush()
    return source, secret


def source_by_name(session: Session, name: str) -> WebhookSource | None:
    """The source, or None; a name no source can have is never sent to the database."""
    if not isinstance(name, str) or not NAME_PATTERN.fullmatch(name):
        return None
    return session.scalar(select(WebhookSource).where(WebhookSource.name == name))


def source_or_error(session: Session, name: str) -> WebhookSource:
    source = source_by_name(session, name)
    if source is None:
        known = ", ".join(s.name for s in list_sources(session)) or "none"
        raise SourceError(f"there is no source {name!r} (sources: {known})")
    return source


def list_sources(session: Session) -> list[WebhookSource]:
    return list(session.scalars(select(WebhookSource).options(selectinload(WebhookSource.secrets))
                                .order_by(WebhookSource.name)))


def rotate_secret(session: Session, name: str, grace: dt.timedelta = DEFAULT_GRACE,
                  now: dt.datetime | None = None) -> str:
    """Add a new secret; the ones still valid expire ``grace`` from now (0: at once).
    A secret that expires earlier already keeps its earlier expiry."""
    if grace < dt.timedelta(0):
        raise SourceError("the grace period cannot be negative")
    now = now or utcnow()
    source = source_or_error(session, name)
    until = now + grace
    for old in valid_secrets(session, source, now):
        if old.expires_at is None or old.expires_at > until:
            old.expires_at = until
    secret = new_secret()
    session.add(WebhookSecret(source_id=source.id, secret=secret, created_at=now))
    session.flush()
    return secret


def set_callback_allow(session: Session, name: str, prefixes: list[str]) -> WebhookSource:
    source = source_or_error(session, name)
    source.callback_allow = check_prefixes(prefixes)
    session.flush()
    return source


def valid_secrets(session: Session, source: WebhookSource, now: dt.datetime | None = None) -> list[WebhookSecret]:
    """The secrets that verify at ``now``, newest first."""
    now = now or utcnow()
    return list(session.scalars(select(WebhookSecret).where(
        WebhookSecret.source_id == source.id,
        (WebhookSecret.expires_at.is_(None)) | (WebhookSecret.expires_at > now))
        .order_by(WebhookSecret.id.desc())))


def signing_secret(session: Session, source: WebhookSource, now: dt.datetime | None = None) -> str | None:
    """The secret outbound callbacks are signed with: the newest valid one."""
    found = valid_secrets(session, source, now)
    return found[0].secret if found else None


# ----------------------------------------------------------------------------- verifying
def verify(secrets: list[str], body: bytes, headers: Mapping[str, str], tolerance_seconds: int,
           now: dt.datetime | None = None) -> str:
    """Check a delivery's signature against any of ``secrets``; returns its ``webhook-id``.

    Our own checks come first, so each refusal names its reason, and the tolerance is ours
    (``webhook_tolerance_seconds``), not only the library's fixed 5 minutes. Then the library
    verifies the HMAC; anything at all it raises means refused."""
    from standardwebhooks.webhooks import Webhook, WebhookVerificationError

    lowered = {str(k).lower(): v for k, v in headers.items()}
    message_id = lowered.get("webhook-id", "")
    timestamp = lowered.get("webhook-timestamp", "")
    signature = lowered.get("webhook-signature", "")
    missing = [name for name, value in (("webhook-id", message_id), ("webhook-timestamp", timestamp),
                                        ("webhook-signature", signature)) if not value]
    if missing:
        raise WebhookRefused("missing_headers", f"Missing header(s): {', '.join(missing)} "
                             "(Standard Webhooks: webhook-id, webhook-timestamp, webhook-signature).", missing[0])
    if len(message_id) > MAX_MESSAGE_ID or not message_id.isprintable():
        raise WebhookRefused("malformed_signature",
                             f"The webhook-id header must be printable and at most {MAX_MESSAGE_ID} characters.",
                             "webhook-id")
    if not (timestamp.isascii() and timestamp.isdigit()) or len(timestamp) > 12:
        raise WebhookRefused("malformed_signature",
                             "The webhook-timestamp header must be the Unix time in whole seconds.",
                             "webhook-timestamp")
    now = now or utcnow()
    offset = int(timestamp) - now.timestamp()
    if abs(offset) > tolerance_seconds:
        when = "in the past" if offset < 0 else "in the future"
        raise WebhookRefused("stale_timestamp", f"The webhook-timestamp is {abs(offset):.0f} s {when}; at most "
                             f"{tolerance_seconds} s are accepted (is the sender's clock right? a replay?).")
    entries = signature.split(" ")
    if not all(_SIGNATURE_ENTRY.fullmatch(entry) for entry in entries):
        raise WebhookRefused("malformed_signature", "The webhook-signature header must be space-separated "
                             "'v1,<base64 HMAC-SHA256>' entries.")
    try:
        body.decode("utf-8")
    except UnicodeDecodeError:
        raise WebhookRefused("bad_signature", "The body is not UTF-8 text, so its signature cannot match.") from None
    plain = {"webhook-id": message_id, "webhook-timestamp": timestamp, "webhook-signature": signature}
    for secret in secrets:
        try:
            Webhook(secret).verify(body, plain, json_parse=False)
            return message_id
        except WebhookVerificationError as exc:
            if "timestamp" in str(exc).lower():  # the library's own fixed 5-minute window
                raise WebhookRefused("stale_timestamp", f"The webhook-timestamp is out of range: {exc}.") from None
        except Exception:  # noqa: BLE001 - ValueError, binascii.Error ...: refused, never a 500
            continue
    raise WebhookRefused("bad_signature", "No webhook-signature entry matches a secret of this source.")
