"""A fake LTI platform's Assignment and Grade Services side, on real HTTP (pytest-httpserver).

- ``POST /token``: OAuth2 client credentials. The client assertion is verified the way a
  platform does it: RS256 against the tool's published JWKS (``ToolKeys``), ``aud`` = this
  token URL, ``iss`` = ``sub`` = the registered client id, ``exp``/``iat`` present, each
  ``jti`` once. Issues ``tok-<n>`` tokens.
- ``POST /lineitems/<id>/lineitem/scores``: needs a live Bearer token and the score media
  type; records every score (with whether a real platform would keep it: its timestamp must
  be newer than the last kept one for that line item and user).

Both can be scripted to fail: append ``Reply(status, headers, body)`` or ``HANG`` to
``token_script`` / ``score_script``; each request pops one (empty: behave normally). A hang
blocks until the platform is stopped or ``release`` is set.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import re
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

import jwt
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from grader.lms.lti.keys import ToolKeys

SCORE_TYPE = "application/vnd.ims.lis.v1.score+json"
SCORES_PATH = re.compile(r"^/lineitems/(?P<item>[^/]+)/lineitem/scores$")
HANG = "hang"


@dataclass
class Reply:
    status: int
    headers: dict[str, str] = field(default_factory=dict)
    body: Any = None  # a dict is sent as JSON


@dataclass
class ReceivedScore:
    lineitem: str
    token: str
    content_type: str
    query: str
    score: dict[str, Any]
    kept: bool  # a real platform keeps a score only if its timestamp is newer than the last


@dataclass
class TokenRequest:
    form: dict[str, str]
    claims: dict[str, Any] | None  # None when the assertion did not verify
    header: dict[str, Any] | None
    refused: str | None  # why it was refused, if it was


class FakeAgsPlatform:
    def __init__(self, server: HTTPServer, jwks: Callable[[], dict], client_id: str = "grader-tool",
                 expires_in: int = 3600):
        self.server, self.jwks, self.client_id, self.expires_in = server, jwks, client_id, expires_in
        self.token_url = server.url_for("/token")
        self.token_script: list[Reply | str] = []
        self.score_script: list[Reply | str] = []
        self.token_requests: list[TokenRequest] = []
        self.scores: list[ReceivedScore] = []
        self.score_attempts = 0
        self.release = threading.Event()
        self._live_tokens: set[str] = set()
        self._seen_jti: set[str] = set()
        self._last_kept: dict[tuple[str, str], dt.datetime] = {}
        self._lock = threading.Lock()
        server.expect_request("/token", method="POST").respond_with_handler(self._token)
        server.expect_request(SCORES_PATH, method="POST").respond_with_handler(self._score)

    def lineitem_url(self, item: str = "1", query: str = "") -> str:
        return self.server.url_for(f"/lineitems/{item}/lineitem") + (f"?{query}" if query else "")

    def revoke_tokens(self) -> None:
        """Every issued token stops working (the next score POST answers 401)."""
        with self._lock:
            self._live_tokens.clear()

    def kept_scores(self) -> list[ReceivedScore]:
        return [score for score in self.scores if score.kept]

    # ------------------------------------------------------------------ handlers
    def _scripted(self, script: list) -> Response | None:  # noqa: ANN401
        with self._lock:
            step = script.pop(0) if script else None
        if step is None:
            return None
        if step == HANG:
            self.release.wait(60)
            return Response("too late", status=504)
        body = json.dumps(step.body) if isinstance(step.body, dict) else (step.body or "")
        headers = {"Content-Type": "application/json"} if isinstance(step.body, dict) else {}
        return Response(body, status=step.status, headers={**headers, **step.headers})

    def _token(self, request: Request) -> Response:
        form = request.form.to_dict()
        scripted = self._scripted(self.token_script)
        if scripted is not None:
            self.token_requests.append(TokenRequest(form, None, None, f"scripted {scripted.status_code}"))
            return scripted
        try:
            header, claims = self._verify(form)
        except Exception as exc:  # noqa: BLE001 - every failure is the client's: 401 invalid_client
            self.token_requests.append(TokenRequest(form, None, None, str(exc)))
            return _json({"error": "invalid_client", "error_description": str(exc)}, 401)
        token = f"tok-{len(self.token_requests) + 1}"
        with self._lock:
            self._live_tokens.add(token)
        self.token_requests.append(TokenRequest(form, claims, header, None))
        return _json({"access_token": token, "token_type": "Bearer", "expires_in": self.expires_in,
                      "scope": form.get("scope", "")})

    def _verify(self, form: dict[str, str]) -> tuple[dict, dict]:
        if form.get("grant_type") != "client_credentials":
            raise ValueError(f"grant_type {form.get('grant_type')!r}")
        if form.get("client_assertion_type") != "urn:ietf:params:oauth:client-assertion-type:jwt-bearer":
            raise ValueError(f"client_assertion_type {form.get('client_assertion_type')!r}")
        assertion = form.get("client_assertion", "")
        header = jwt.get_unverified_header(assertion)
        keys = {key.key_id: key for key in jwt.PyJWKSet.from_dict(self.jwks()).keys}
        if header.get("kid") not in keys:
            raise ValueError(f"unknown kid {header.get('kid')!r}")
        claims = jwt.decode(assertion, keys[header["kid"]].key, algorithms=["RS256"], audience=self.token_url,
                            issuer=self.client_id, options={"require": ["iss", "sub", "aud", "exp", "iat", "jti"]})
        if claims["sub"] != self.client_id:
            raise ValueError(f"sub {claims['sub']!r} is not the client id")
        with self._lock:
            if claims["jti"] in self._seen_jti:
                raise ValueError("jti replayed")
            self._seen_jti.add(claims["jti"])
        return header, claims

    def _score(self, request: Request) -> Response:
        with self._lock:
            self.score_attempts += 1
        auth = request.headers.get("Authorization", "")
        token = auth.removeprefix("Bearer ") if auth.startswith("Bearer ") else ""
        with self._lock:
            live = token in self._live_tokens
        if not live:
            return _json({"error": "invalid_token"}, 401)
        scripted = self._scripted(self.score_script)
        if scripted is not None:
            return scripted
        content_type = request.headers.get("Content-Type", "")
        if content_type.split(";")[0].strip() != SCORE_TYPE:
            return _json({"error": f"unsupported content type {content_type!r}"}, 415)
        score = json.loads(request.get_data())
        item = SCORES_PATH.match(request.path).group("item")
        stamp = dt.datetime.fromisoformat(score["timestamp"])
        with self._lock:
            last = self._last_kept.get((item, score["userId"]))
            kept = last is None or stamp > last
            if kept:
                self._last_kept[(item, score["userId"])] = stamp
            self.scores.append(ReceivedScore(item, token, content_type, request.query_string.decode(), score, kept))
        return Response("", status=200)


def _json(data: dict, status: int = 200) -> Response:
    return Response(json.dumps(data), status=status, headers={"Content-Type": "application/json"})


@contextlib.contextmanager
def running(instance_path: Path, client_id: str = "grader-tool", expires_in: int = 3600) -> Iterator[FakeAgsPlatform]:
    """A fake platform on its own threaded server on 127.0.0.1, trusting the tool keys in
    ``instance_path`` (read at each token request, so a rotated key is seen)."""
    server = HTTPServer(host="127.0.0.1", port=0, threaded=True)
    server.start()
    platform = FakeAgsPlatform(server, lambda: ToolKeys(instance_path).jwks(), client_id, expires_in)
    try:
        yield platform
    finally:
        platform.release.set()
        server.clear()
        server.stop()
