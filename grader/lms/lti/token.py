"""OAuth2 access tokens for LTI Advantage services (client credentials, RFC 7523 assertion).

The tool proves who it is with a JWT signed by its current key (``keys.ToolKeys``): iss =
sub = the client id the platform gave us, aud = the platform's token endpoint (Canvas checks
exactly that; pylti1p3 lets neither ``aud`` nor the HTTP timeout be set, so this is ours).

Tokens are cached per (platform, scope) in a :class:`TokenCache` until shortly before they
expire: a grade burst after an exam would otherwise ask the platform for a token per score.
"""

from __future__ import annotations

import datetime as dt
import secrets
import threading
import time
from dataclasses import dataclass
from typing import Callable

from grader.lms import http
from grader.lms.lti.keys import ToolKey

SCORE_SCOPE = "https://purl.imsglobal.org/spec/lti-ags/scope/score"
LINEITEM_SCOPE = "https://purl.imsglobal.org/spec/lti-ags/scope/lineitem"
AGS_SCOPES = (SCORE_SCOPE, LINEITEM_SCOPE)

GRANT_TYPE = "client_credentials"
ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
ASSERTION_LIFETIME = dt.timedelta(minutes=5)
DEFAULT_EXPIRES_IN = 300.0  # a platform that does not say how long its token lives
EARLY_MARGIN = 30.0  # renew this long before expiry (at most half the token's life)


class TokenError(Exception):
    """No token. ``retryable`` is False when the platform refused us (wrong client id, key not
    registered, ...): retrying will not help until someone fixes the registration."""

    def __init__(self, message: str, *, retryable: bool, status: int | None = None):
        super().__init__(message)
        self.message, self.retryable, self.status = message, retryable, status


@dataclass(frozen=True)
class Platform:
    """What the token request needs from an ``LtiPlatform`` row (read in a short session)."""

    id: int
    issuer: str
    client_id: str
    token_url: str


def client_assertion(key: ToolKey, client_id: str, token_url: str, now: dt.datetime | None = None) -> str:
    import jwt

    now = now or dt.datetime.now(dt.timezone.utc)
    claims = {"iss": client_id, "sub": client_id, "aud": token_url, "iat": int(now.timestamp()),
              "exp": int((now + ASSERTION_LIFETIME).timestamp()), "jti": secrets.token_urlsafe(24)}
    return jwt.encode(claims, key.private_pem, algorithm="RS256", headers={"kid": key.kid})


def request_token(platform: Platform, scopes: tuple[str, ...], key: ToolKey, timeout: float) -> tuple[str, float]:
    """(access token, seconds it is valid) from the platform's token endpoint, or TokenError."""
    form = {"grant_type": GRANT_TYPE, "client_assertion_type": ASSERTION_TYPE,
            "client_assertion": client_assertion(key, platform.client_id, platform.token_url),
            "scope": " ".join(scopes)}
    where = f"the token endpoint of LTI platform {platform.issuer!r} (client id {platform.client_id!r})"
    try:
        answer = http.post(platform.token_url, form=form, headers={"Accept": "application/json"}, timeout=timeout)
    except http.HttpError as exc:
        raise TokenError(f"No access token: {where} did not answer ({exc}).", retryable=True) from None
    if not 200 <= answer.status < 300:
        retryable = answer.status >= 500 or answer.status in (408, 429)
        raise TokenError(f"No access token: {where} answered HTTP {answer.status}{_said(answer.body)}"
                         + ("" if retryable else "; check the platform registration (client id, token URL, "
                            "and that the platform has the tool's JWKS URL or key)") + ".",
                         retryable=retryable, status=answer.status)
    try:
        data = answer.json()
        token, expires_in = data["access_token"], float(data.get("expires_in") or DEFAULT_EXPIRES_IN)
        if not isinstance(token, str) or not token:
            raise ValueError("empty access_token")
    except (ValueError, KeyError, TypeError, AttributeError, UnicodeDecodeError):
        raise TokenError(f"No access token: {where} answered HTTP {answer.status} without a JSON "
                         f"access_token{_said(answer.body)}.", retryable=True, status=answer.status) from None
    return token, expires_in


def _said(body: bytes) -> str:
    """What the platform said, OAuth2-style (``error``/``error_description``) when it can."""
    text = body[:300].decode("utf-8", "replace").strip()
    if not text:
        return ""
    try:
        import json

        data = json.loads(text)
        if isinstance(data, dict) and data.get("error"):
            described = data.get("error_description")
            return f": {data['error']}" + (f" ({described})" if described else "")
    except ValueError:
        pass
    return f": {text[:200]}"


class TokenCache:
    """Access tokens per (platform id, scopes), kept until ``EARLY_MARGIN`` before expiry.

    One lock per key while fetching, so a burst of sends to one platform makes one token
    request; ``drop`` forgets a token the platform no longer accepts (a 401)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic):
        self._clock = clock
        self._tokens: dict[tuple[int, tuple[str, ...]], tuple[str, float]] = {}
        self._lock = threading.Lock()
        self._fetching: dict[tuple[int, tuple[str, ...]], threading.Lock] = {}

    def get(self, platform: Platform, scopes: tuple[str, ...], key: Callable[[], ToolKey], timeout: float) -> str:
        """A live token; ``key`` (the tool's current signing key) is only loaded to fetch one."""
        cache_key = (platform.id, tuple(sorted(scopes)))
        with self._lock:
            fetching = self._fetching.setdefault(cache_key, threading.Lock())
        with fetching:
            cached = self._valid(cache_key)
            if cached is not None:
                return cached
            token, expires_in = request_token(platform, scopes, key(), timeout)
            keep = max(0.0, expires_in - min(EARLY_MARGIN, expires_in / 2))
            with self._lock:
                self._tokens[cache_key] = (token, self._clock() + keep)
            return token

    def drop(self, platform_id: int, scopes: tuple[str, ...], token: str) -> None:
        """Forget ``token`` (only that one: another thread may have fetched a newer one)."""
        cache_key = (platform_id, tuple(sorted(scopes)))
        with self._lock:
            if self._tokens.get(cache_key, ("", 0.0))[0] == token:
                del self._tokens[cache_key]

    def _valid(self, cache_key: tuple[int, tuple[str, ...]]) -> str | None:
        with self._lock:
            token, until = self._tokens.get(cache_key, ("", 0.0))
            return token if token and self._clock() < until else None
