"""The only way the service makes outbound HTTP requests: every call has a timeout, never
follows a redirect (a redirect could lead a callback past the allow-list), and never reads
more than ``MAX_BODY`` bytes of the answer."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

import requests

TIMEOUT_SECONDS = 15.0
MAX_BODY = 1 << 20
USER_AGENT = "torch-grader"


@dataclass
class Answer:
    status: int
    headers: Mapping[str, str] = field(default_factory=dict)
    body: bytes = b""

    def json(self) -> Any:
        import json

        return json.loads(self.body.decode("utf-8"))


class HttpError(Exception):
    """No HTTP answer at all: refused, reset, timed out, DNS, TLS. The message says which."""


def request(method: str, url: str, *, headers: Mapping[str, str] | None = None, data: bytes | str | None = None,
            json: Any = None, form: Mapping[str, str] | None = None,
            timeout: float = TIMEOUT_SECONDS) -> Answer:
    sent = {"User-Agent": USER_AGENT, **(headers or {})}
    try:
        with requests.request(method, url, headers=sent, data=form if form is not None else data, json=json,
                              timeout=timeout, allow_redirects=False, stream=True) as response:
            body = response.raw.read(MAX_BODY + 1, decode_content=True) or b""
            return Answer(response.status_code, dict(response.headers), body[:MAX_BODY])
    except requests.Timeout:
        raise HttpError(f"no answer within {timeout:g} s") from None
    except requests.RequestException as exc:
        raise HttpError(f"{type(exc).__name__}: {_short(exc)}") from None


def post(url: str, **kwargs: Any) -> Answer:
    return request("POST", url, **kwargs)


def get(url: str, **kwargs: Any) -> Answer:
    return request("GET", url, **kwargs)


def _short(exc: Exception) -> str:
    text = str(exc)
    return text if len(text) <= 300 else text[:297] + "..."
