"""What one delivery attempt came to, and how an HTTP answer maps to it.

- 2xx: delivered.
- 410 Gone: the destination is disabled; nothing more is sent to it.
- 408, 429, 5xx, or no answer at all: retried later (``Retry-After`` honoured).
- any other 4xx: permanent; the instructor sees it in the delivery log.
"""

from __future__ import annotations

import datetime as dt
import email.utils
from dataclasses import dataclass
from typing import Mapping

RETRIED_4XX = (408, 429)


@dataclass(frozen=True)
class Outcome:
    delivered: bool = False
    status: int | None = None  # the HTTP status, None when there was no answer
    error: str | None = None  # what went wrong, for the delivery log
    retry_after: float | None = None  # seconds the destination asked us to wait
    permanent: bool = False  # do not retry (a 4xx other than 408/429)
    disable: bool = False  # 410: disable the destination
    sent_timestamp: str | None = None  # AGS: the score's timestamp, kept on the delivery


def of_answer(status: int, headers: Mapping[str, str] | None = None, body: bytes = b"") -> Outcome:
    if 200 <= status < 300:
        return Outcome(delivered=True, status=status)
    detail = f"HTTP {status}" + (f": {body[:200].decode('utf-8', 'replace').strip()}" if body.strip() else "")
    if status == 410:
        return Outcome(status=status, error=detail, disable=True, permanent=True)
    if status in RETRIED_4XX or status >= 500:
        return Outcome(status=status, error=detail, retry_after=retry_after(headers or {}))
    if 400 <= status < 500:
        return Outcome(status=status, error=detail, permanent=True)
    return Outcome(status=status, error=f"{detail} (a redirect or an unexpected status; redirects are not followed)",
                   permanent=True)


def of_failure(error: str) -> Outcome:
    """No HTTP answer (refused, timed out, ...): retried later."""
    return Outcome(error=error)


def retry_after(headers: Mapping[str, str], now: dt.datetime | None = None) -> float | None:
    """``Retry-After`` in seconds (delta-seconds or an HTTP date), None if absent or unreadable."""
    value = next((v for k, v in headers.items() if k.lower() == "retry-after"), None)
    if value is None:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.timezone.utc)
    now = now or dt.datetime.now(dt.timezone.utc)
    return max(0.0, (when - now).total_seconds())
