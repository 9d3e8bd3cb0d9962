"""LTI 1.3 platform registrations (``grader lti add-platform``) and the pylti1p3 tool
configuration built from them.

The tool configuration reads the ``lti_platforms`` rows on every call instead of holding a
dict loaded at start, so a platform registered while the server runs works at once.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterable
from urllib.parse import urlsplit

from pylti1p3.deployment import Deployment
from pylti1p3.registration import Registration
from pylti1p3.tool_config.abstract import ToolConfAbstract
from sqlalchemy import select
from sqlalchemy.orm import Session

from grader.lms.lti.keys import ToolKeys
from grader.store.models import Course
from grader.store.models_lms import LtiPlatform


class RegistryError(Exception):
    """A registration that cannot be made; the message says why."""


def _url(value: str, what: str) -> str:
    value = (value or "").strip()
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc or len(value) > 2000:
        raise RegistryError(f"{what} must be an http(s) URL, not {value[:100]!r}")
    return value


def _text(value: str, what: str) -> str:
    value = (value or "").strip()
    if not value or len(value) > 255 or not value.isprintable():
        raise RegistryError(f"{what} must be 1 to 255 printable characters")
    return value


def add_platform(session: Session, issuer: str, client_id: str, deployment_ids: Iterable[str], auth_url: str,
                 token_url: str, jwks_url: str, course_id: str | None = None) -> LtiPlatform:
    """Register (issuer, client_id), or update that registration: the same pair given again
    replaces its URLs and adds its deployment ids (a platform adds deployments over time)."""
    issuer, client_id = _text(issuer, "the issuer"), _text(client_id, "the client id")
    deployments = [_text(d, "a deployment id") for d in deployment_ids]
    if not deployments:
        raise RegistryError("give at least one deployment id")
    urls = {"auth_url": _url(auth_url, "the auth (OIDC authorization) URL"),
            "token_url": _url(token_url, "the token URL"), "jwks_url": _url(jwks_url, "the JWKS URL")}
    if course_id is not None and session.get(Course, course_id) is None:
        raise RegistryError(f"there is no course {course_id!r}")
    platform = platform_for(session, issuer, client_id)
    if platform is None:
        platform = LtiPlatform(issuer=issuer, client_id=client_id, deployment_ids=deployments, **urls,
                               course_id=course_id)
        session.add(platform)
    else:
        if urls["jwks_url"] != platform.jwks_url:
            platform.jwks, platform.jwks_fetched_at = None, None  # the cached keys were another URL's
        platform.deployment_ids = list(dict.fromkeys([*platform.deployment_ids, *deployments]))
        for name, value in urls.items():
            setattr(platform, name, value)
        if course_id is not None:
            platform.course_id = course_id
    session.flush()
    return platform


def list_platforms(session: Session) -> list[LtiPlatform]:
    return list(session.scalars(select(LtiPlatform).order_by(LtiPlatform.id)))


def platform_for(session: Session, issuer: str | None, client_id: str | None = None) -> LtiPlatform | None:
    """The registration of ``issuer`` (and ``client_id``; without it, the issuer's only
    registration, or None when it has several and the choice would be a guess)."""
    if not issuer or len(issuer) > 255 or not issuer.isprintable():
        return None
    query = select(LtiPlatform).where(LtiPlatform.issuer == issuer)
    if client_id is not None:
        if len(client_id) > 255 or not client_id.isprintable():
            return None
        return session.scalar(query.where(LtiPlatform.client_id == client_id))
    found = list(session.scalars(query.limit(2)))
    return found[0] if len(found) == 1 else None


class ToolRegistration(Registration):
    """A pylti1p3 registration whose key id is the tool key's own (``kid`` in the JWKS)."""

    def __init__(self, kid: str) -> None:
        super().__init__()
        self._kid = kid

    def get_kid(self) -> str:
        return self._kid


class DatabaseToolConf(ToolConfAbstract):
    """pylti1p3's view of the registrations: one ``lti_platforms`` query per call."""

    def __init__(self, session: Session, instance_path: Path) -> None:
        self.session = session
        self.keys = ToolKeys(instance_path)
        self.issuers_relation_types = {}

    def check_iss_has_one_client(self, iss: str) -> bool:
        return False

    def check_iss_has_many_clients(self, iss: str) -> bool:
        return True

    def registration_of(self, platform: LtiPlatform) -> ToolRegistration:
        key = self.keys.current()
        registration = ToolRegistration(key.kid)
        registration.set_issuer(platform.issuer).set_client_id(platform.client_id) \
            .set_auth_login_url(platform.auth_url).set_auth_token_url(platform.token_url) \
            .set_key_set_url(platform.jwks_url).set_key_set(platform.jwks) \
            .set_tool_private_key(key.private_pem.decode()) \
            .set_tool_public_key(_public_pem(key.private_pem))
        return registration

    def find_registration_by_issuer(self, iss: str, *args: Any, **kwargs: Any) -> Registration | None:
        platform = platform_for(self.session, iss)
        return self.registration_of(platform) if platform is not None else None

    def find_registration_by_params(self, iss: str, client_id: str, *args: Any, **kwargs: Any) -> Registration | None:
        platform = platform_for(self.session, iss, client_id)
        return self.registration_of(platform) if platform is not None else None

    def find_deployment(self, iss: str, deployment_id: str) -> Deployment | None:
        return _deployment(platform_for(self.session, iss), deployment_id)

    def find_deployment_by_params(self, iss: str, deployment_id: str, client_id: str, *args: Any,
                                  **kwargs: Any) -> Deployment | None:
        return _deployment(platform_for(self.session, iss, client_id), deployment_id)

    def get_jwks(self, iss: str | None = None, client_id: str | None = None, **kwargs: Any) -> dict[str, Any]:
        """The tool's public keys: the same for every platform (one key pair per instance)."""
        return self.keys.jwks()


def _deployment(platform: LtiPlatform | None, deployment_id: str) -> Deployment | None:
    if platform is None or deployment_id not in (platform.deployment_ids or []):
        return None
    return Deployment().set_deployment_id(deployment_id)


def _public_pem(private_pem: bytes) -> str:
    from cryptography.hazmat.primitives import serialization

    key = serialization.load_pem_private_key(private_pem, password=None)
    return key.public_key().public_bytes(serialization.Encoding.PEM,
                                         serialization.PublicFormat.SubjectPublicKeyInfo).decode()
