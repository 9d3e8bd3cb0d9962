"""A fake LTI 1.3 platform for tests: its own RSA key and JWKS (served over real HTTP by
pytest-httpserver), id_tokens with any claims, key id or clock, and a browser's part of the
flow (follow the OIDC login redirect, post the launch form back).

    platform = FakePlatform(httpserver)
    platform.register(db)
    response = platform.launch(client, sub="s-1", custom={"exercise": "adam-from-scratch"})
"""

from __future__ import annotations

import json
import re
import secrets
import time
from dataclasses import dataclass, field
from typing import Any, Callable
from urllib.parse import parse_qs, urlsplit

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from jwcrypto import jwk

CLAIM = "https://purl.imsglobal.org/spec/lti/claim/"
AGS = "https://purl.imsglobal.org/spec/lti-ags/claim/endpoint"
DL = "https://purl.imsglobal.org/spec/lti-dl/claim/deep_linking_settings"
STUDENT = ["http://purl.imsglobal.org/vocab/lis/v2/membership#Learner"]
INSTRUCTOR = ["http://purl.imsglobal.org/vocab/lis/v2/membership#Instructor"]


@dataclass
class PlatformKey:
    kid: str
    private_pem: bytes

    @classmethod
    def new(cls) -> "PlatformKey":
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
        return cls(f"platform-{secrets.token_hex(4)}", pem)

    def public_jwk(self) -> dict[str, Any]:
        public = json.loads(jwk.JWK.from_pem(self.private_pem).export_public())
        return {**public, "kid": self.kid, "alg": "RS256", "use": "sig"}


@dataclass
class Launch:
    """One browser launch: the login redirect, what was posted back, the tool's answer."""

    login: Any
    id_token: str | None
    state: str | None
    response: Any
    redirect_uri: str = ""


@dataclass
class FakePlatform:
    httpserver: Any
    issuer: str = "https://lms.example.edu"
    client_id: str = "tool-client-1"
    deployment_id: str = "deployment-1"
    keys: list[PlatformKey] = field(default_factory=lambda: [PlatformKey.new()])
    jwks_fetches: int = 0

    def __post_init__(self) -> None:
        self.httpserver.expect_request("/jwks").respond_with_handler(self._serve_jwks)

    # ------------------------------------------------------------------------- the platform side
    def _serve_jwks(self, _request):  # noqa: ANN001, ANN202
        from werkzeug import Response

        self.jwks_fetches += 1
        return Response(json.dumps({"keys": [k.public_jwk() for k in self.keys]}), content_type="application/json")

    @property
    def key(self) -> PlatformKey:
        return self.keys[-1]

    @property
    def jwks_url(self) -> str:
        return self.httpserver.url_for("/jwks")

    @property
    def auth_url(self) -> str:
        return self.issuer + "/api/lti/authorize_redirect"

    @property
    def token_url(self) -> str:
        return self.issuer + "/login/oauth2/token"

    def rotate(self, keep_old: bool = False) -> PlatformKey:
        """A new signing key, published from now on (the old one too if ``keep_old``)."""
        new = PlatformKey.new()
        self.keys = [*self.keys, new] if keep_old else [new]
        return new

    def register(self, db, course_id: str | None = None, deployment_ids: list[str] | None = None):  # noqa: ANN001, ANN201
        from grader.lms.lti import registry

        with db.unit_of_work() as session:
            return registry.add_platform(session, self.issuer, self.client_id,
                                         deployment_ids or [self.deployment_id], self.auth_url, self.token_url,
                                         self.jwks_url, course_id).id

    def claims(self, nonce: str, sub: str = "student-1", roles: list[str] | None = None,
               custom: dict[str, str] | None = None, lineitem: str | None = None, context_id: str = "course-101",
               resource_link_id: str = "link-1", message_type: str = "LtiResourceLinkRequest",
               deep_link_return_url: str | None = None, target_link_uri: str = "", **extra: Any) -> dict[str, Any]:
        now = int(time.time())
        claims: dict[str, Any] = {
            "iss": self.issuer, "aud": self.client_id, "sub": sub, "iat": now, "exp": now + 300, "nonce": nonce,
            "name": f"User {sub}", "email": f"{sub}@lms.example.edu",
            CLAIM + "version": "1.3.0", CLAIM + "message_type": message_type,
            CLAIM + "deployment_id": self.deployment_id, CLAIM + "target_link_uri": target_link_uri,
            CLAIM + "roles": STUDENT if roles is None else roles,
            CLAIM + "context": {"id": context_id, "label": "ML101", "title": "Deep Learning 101"},
        }
        if message_type == "LtiResourceLinkRequest":
            claims[CLAIM + "resource_link"] = {"id": resource_link_id, "title": "Exercise link"}
        else:
            claims[DL] = {"deep_link_return_url": deep_link_return_url or self.issuer + "/deep_links",
                          "accept_types": ["ltiResourceLink"], "accept_presentation_document_targets": ["window"],
                          "data": "opaque-platform-data"}
        if custom is not None:
            claims[CLAIM + "custom"] = custom
        if lineitem is not None:
            claims[AGS] = {"scope": ["https://purl.imsglobal.org/spec/lti-ags/scope/score"],
                           "lineitems": self.issuer + "/api/lti/courses/1/line_items", "lineitem": lineitem}
        claims.update(extra)
        return claims

    def mint(self, claims: dict[str, Any], key: PlatformKey | None = None, kid: str | None = None) -> str:
        key = key or self.key
        return jwt.encode(claims, key.private_pem, algorithm="RS256", headers={"kid": kid or key.kid})

    # ------------------------------------------------------------------------- the browser side
    def launch(self, client, tamper: Callable[[dict[str, Any]], None] | None = None,  # noqa: ANN001
               key: PlatformKey | None = None, kid: str | None = None, login_issuer: str | None = None,
               **claim_args: Any) -> Launch:
        """OIDC login on the tool, the platform's redirect back with a fresh id_token, and the
        tool's answer to that POST. ``tamper(claims)`` edits the claims before signing."""
        login = client.get("/lti/login", query_string={
            "iss": login_issuer or self.issuer, "login_hint": claim_args.get("sub", "student-1"),
            "target_link_uri": "http://localhost/lti/launch", "client_id": self.client_id,
            "lti_message_hint": "hint-42"})
        if login.status_code != 302:
            return Launch(login, None, None, login)
        query = {k: v[0] for k, v in parse_qs(urlsplit(login.headers["Location"]).query).items()}
        claims = self.claims(query["nonce"], **claim_args)
        if tamper is not None:
            tamper(claims)
        id_token = self.mint(claims, key, kid)
        response = self.post_launch(client, query["redirect_uri"], id_token, query["state"])
        return Launch(login, id_token, query["state"], response, query["redirect_uri"])

    @staticmethod
    def post_launch(client, redirect_uri: str, id_token: str | None, state: str | None):  # noqa: ANN001, ANN205
        form = {k: v for k, v in (("id_token", id_token), ("state", state)) if v is not None}
        return client.post(urlsplit(redirect_uri).path, data=form)

    # ------------------------------------------------------------------------- deep linking
    @staticmethod
    def deep_link_form(html: str) -> tuple[str, str]:
        """(return URL, JWT) from the tool's auto-submitting form."""
        action = re.search(r'<form id="lti-deep-link-return" method="post" action="([^"]+)"', html)
        value = re.search(r'name="JWT" value="([^"]+)"', html)
        assert action and value, html
        return action.group(1).replace("&amp;", "&"), value.group(1)

    def verify_deep_link_response(self, token: str, tool_jwks: dict[str, Any]) -> dict[str, Any]:
        """The response's claims, verified as the platform would: with the tool's JWKS, for
        this platform as the audience."""
        kid = jwt.get_unverified_header(token)["kid"]
        public = next(k for k in tool_jwks["keys"] if k["kid"] == kid)
        return jwt.decode(token, jwt.PyJWK(public, algorithm="RS256").key, algorithms=["RS256"],
                          audience=self.issuer, issuer=self.client_id)
