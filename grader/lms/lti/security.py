"""What a launch must prove, beyond what pylti1p3next checks (see ``../shared/NOTES.md``).

- the id_token is verified here with PyJWT: RS256 only, ``iss``/``aud``/``azp`` of a
  registered platform, ``exp``/``iat``/``nbf`` with the configured clock skew as leeway;
- the platform's JWKS is cached on its ``LtiPlatform`` row and fetched again, once, when a
  token names a key id the cache does not have (the platform rotated its key); every fetch
  goes through :mod:`grader.lms.http` (timeouts, no redirects);
- each nonce is consumed exactly once: a row in ``lti_nonces`` (its primary key), inserted
  in the launch's unit of work, so a replayed id_token fails on the UNIQUE key;
- the OIDC ``state`` is signed by the tool (no server-side store and no cookie needed on a
  cross-site POST), carries the nonce the id_token must repeat, and expires after 10 min.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import dataclass
from typing import Any

import jwt
from itsdangerous import BadData, URLSafeTimedSerializer
from sqlalchemy import delete
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from grader.lms import http
from grader.store.models import utcnow
from grader.store.models_lms import LtiNonce, LtiPlatform


CLAIM = "https://purl.imsglobal.org/spec/lti/claim/"
MESSAGE_TYPES = ("LtiResourceLinkRequest", "LtiDeepLinkingRequest")
STATE_MAX_AGE = 600
STATE_SALT = "grader.lti.state"
MIN_REFETCH_SECONDS = 2.0  # a flood of tokens with made-up key ids refetches at most this often


class LaunchError(Exception):
    """A launch that cannot go on. ``status`` is the HTTP status for the page; the message
    is a sentence for the person who clicked the link (and the log)."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status, self.message = status, message


# ----------------------------------------------------------------------------- state
@dataclass(frozen=True)
class LoginState:
    nonce: str
    issuer: str
    client_id: str
    browser: str  # the name part of the state cookie set at login


def sign_state(secret: str, state: LoginState) -> str:
    return URLSafeTimedSerializer(secret, salt=STATE_SALT).dumps(
        {"n": state.nonce, "i": state.issuer, "c": state.client_id, "b": state.browser})


def read_state(secret: str, token: str | None, max_age: int = STATE_MAX_AGE) -> LoginState:
    if not token:
        raise LaunchError(400, "The launch has no state: start it again from your course page.")
    try:
        data = URLSafeTimedSerializer(secret, salt=STATE_SALT).loads(token[:2000], max_age=max_age)
        return LoginState(str(data["n"]), str(data["i"]), str(data["c"]), str(data["b"]))
    except BadData as exc:
        expired = "expired" in type(exc).__name__.lower()
        raise LaunchError(400, "The launch took too long: start it again from your course page." if expired
                          else "The launch state is not one this tool issued.") from None
    except (KeyError, TypeError):
        raise LaunchError(400, "The launch state is not one this tool issued.") from None


# ----------------------------------------------------------------------------- the id_token
@dataclass(frozen=True)
class Unverified:
    """What the id_token says about itself before its signature is checked: enough to find
    the registration and the key."""

    issuer: str
    client_id: str
    kid: str | None


def peek(id_token: str | None) -> Unverified:
    if not id_token or len(id_token) > 100_000:
        raise LaunchError(400, "The launch has no id_token.")
    try:
        header = jwt.get_unverified_header(id_token)
        claims = jwt.decode(id_token, options={"verify_signature": False})
    except jwt.PyJWTError as exc:
        raise LaunchError(400, f"The id_token is not a JWT ({exc}).") from None
    if header.get("alg") != "RS256":
        raise LaunchError(401, "The id_token must be signed with RS256.")
    audience = claims.get("aud")
    audiences = [audience] if isinstance(audience, str) else audience if isinstance(audience, list) else []
    client_id = claims.get("azp") if len(audiences) != 1 else audiences[0]
    if not isinstance(claims.get("iss"), str) or not isinstance(client_id, str):
        raise LaunchError(400, "The id_token names no issuer or no audience (client id).")
    kid = header.get("kid")
    return Unverified(claims["iss"], client_id, kid if isinstance(kid, str) else None)


def key_in(jwks: dict[str, Any] | None, kid: str | None) -> dict[str, Any] | None:
    keys = [k for k in (jwks or {}).get("keys", []) if isinstance(k, dict) and k.get("kty") == "RSA"]
    if kid is None:
        return keys[0] if len(keys) == 1 else None
    return next((k for k in keys if k.get("kid") == kid), None)


def fetch_jwks(url: str, timeout: float) -> dict[str, Any]:
    try:
        answer = http.get(url, timeout=timeout, headers={"Accept": "application/json"})
    except http.HttpError as exc:
        raise LaunchError(401, f"The platform's keys could not be fetched: {exc}.") from None
    if answer.status != 200:
        raise LaunchError(401, f"The platform's keys could not be fetched: HTTP {answer.status}.")
    try:
        jwks = answer.json()
    except ValueError:
        raise LaunchError(401, "The platform's key set is not JSON.") from None
    if not isinstance(jwks, dict) or not isinstance(jwks.get("keys"), list):
        raise LaunchError(401, "The platform's key set has no keys.")
    return jwks


def needs_refetch(platform: LtiPlatform, kid: str | None, now: dt.datetime | None = None) -> bool:
    """True when the cache lacks the key and was not itself fetched a moment ago."""
    if key_in(platform.jwks, kid) is not None:
        return False
    if platform.jwks is None or platform.jwks_fetched_at is None:
        return True
    now = now or utcnow()
    return (now - platform.jwks_fetched_at).total_seconds() >= MIN_REFETCH_SECONDS


def verify(id_token: str, public_jwk: dict[str, Any], platform: LtiPlatform, skew_seconds: int) -> dict[str, Any]:
    """The verified claims: signature, issuer, audience, times with ``skew_seconds`` of
    leeway, and the LTI claims every launch carries."""
    try:
        key = jwt.PyJWK(public_jwk, algorithm="RS256").key
        claims = jwt.decode(id_token, key, algorithms=["RS256"], audience=platform.client_id,
                            issuer=platform.issuer, leeway=skew_seconds,
                            options={"require": ["exp", "iat", "iss", "aud"]})
    except jwt.ExpiredSignatureError:
        raise LaunchError(401, "The launch has expired (or the platform's clock is off): start it again.") from None
    except jwt.ImmatureSignatureError:
        raise LaunchError(401, "The launch is dated in the future: the platform's clock is off.") from None
    except jwt.InvalidSignatureError:
        raise LaunchError(401, "The id_token's signature does not verify with the platform's key.") from None
    except (jwt.PyJWTError, ValueError, TypeError) as exc:
        raise LaunchError(401, f"The id_token is not valid: {exc}.") from None
    audience = claims.get("aud")
    if isinstance(audience, list) and len(audience) > 1 and claims.get("azp") != platform.client_id:
        raise LaunchError(401, "The id_token is meant for several clients and names none of them (azp).")
    if claims.get(CLAIM + "version") != "1.3.0":
        raise LaunchError(400, "The launch is not LTI 1.3.0.")
    if claims.get(CLAIM + "message_type") not in MESSAGE_TYPES:
        raise LaunchError(400, "This tool takes resource link and deep linking launches only.")
    deployment = claims.get(CLAIM + "deployment_id")
    if not isinstance(deployment, str) or deployment not in (platform.deployment_ids or []):
        raise LaunchError(403, f"The deployment {str(deployment)[:100]!r} is not registered for this platform: "
                               "add it with `grader lti add-platform --deployment-id`.")
    if not isinstance(claims.get("nonce"), str) or not claims["nonce"]:
        raise LaunchError(400, "The id_token has no nonce.")
    if not isinstance(claims.get("sub"), str) or not claims["sub"] or len(claims["sub"]) > 255:
        raise LaunchError(400, "The launch names no user (sub); anonymous launches are not supported.")
    return claims


# ----------------------------------------------------------------------------- nonces
def nonce_key(issuer: str, nonce: str) -> str:
    """The stored form: a digest, so any nonce (of any length) fits the 255-character key."""
    return hashlib.sha256(json.dumps([issuer, nonce]).encode()).hexdigest()


def consume_nonce(session: Session, issuer: str, nonce: str, expires_at: dt.datetime) -> None:
    """Record the nonce as used, in the caller's unit of work; a second use is refused by the
    primary key, even when two replays race."""
    session.execute(delete(LtiNonce).where(LtiNonce.expires_at < utcnow()))
    session.add(LtiNonce(nonce=nonce_key(issuer, nonce), expires_at=expires_at))
    try:
        session.flush()
    except IntegrityError:
        raise LaunchError(401, "This launch was already used: start it again from your course page.") from None
