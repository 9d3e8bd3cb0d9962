"""A small client of the grading service's JSON API, for ``grader submit`` and for notebooks.

In a notebook cell (the report is the cell's output; save a notebook before submitting it)::

    from grader.client import submit
    submit("fix.py", "none-grad-after-rebinding")

The server and the API token come from the arguments, else ``GRADER_SERVER`` /
``GRADER_TOKEN``, else ``~/.config/torch-grader/client.toml`` (``server = "..."`` and
``token = "..."``; another file with ``GRADER_CLIENT_CONFIG``). Every failure is a
:class:`ClientError` whose message says what to do; nothing here imports torch.
"""

from __future__ import annotations

import datetime as dt
import os
import time
import tomllib
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, Callable, Mapping

from grader.engine.report import format_grade
from grader.engine.results import CheckResult, GradeResult

SUBMISSIONS = "/api/v1/submissions"
CONNECT_SECONDS = 5.0
READ_SECONDS = 30.0
DONE = ("graded", "failed")


class ClientError(Exception):
    """The submission could not be made or followed; the message is for a person."""


@dataclass(frozen=True)
class Settings:
    server: str
    token: str


def config_path(environ: Mapping[str, str] | None = None) -> Path:
    environ = os.environ if environ is None else environ
    if environ.get("GRADER_CLIENT_CONFIG"):
        return Path(environ["GRADER_CLIENT_CONFIG"]).expanduser()
    base = Path(environ.get("XDG_CONFIG_HOME") or Path.home() / ".config")
    return base / "torch-grader" / "client.toml"


def settings(server: str | None = None, token: str | None = None,
             environ: Mapping[str, str] | None = None) -> Settings:
    """Arguments first, then the environment, then the client config file."""
    environ = os.environ if environ is None else environ
    server = server or environ.get("GRADER_SERVER")
    token = token or environ.get("GRADER_TOKEN")
    path = config_path(environ)
    if (not server or not token) and path.is_file():
        try:
            stored = tomllib.loads(path.read_text(encoding="utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError, OSError) as exc:
            raise ClientError(f"cannot read {path}: {exc}") from None
        server = server or str(stored.get("server") or "")
        token = token or str(stored.get("token") or "")
    if not server:
        raise ClientError(f"no server given: use --server URL, set GRADER_SERVER, or write "
                          f'server = "https://..." in {path}')
    if not server.startswith(("http://", "https://")):
        raise ClientError(f"the server must be an http:// or https:// address, not {server!r}")
    if not token:
        raise ClientError(f"no API token given: use --token, set GRADER_TOKEN, or write token = \"...\" "
                          f"in {path} (an instructor creates one with: grader tokens create EMAIL)")
    return Settings(server.rstrip("/"), token.strip())


@dataclass
class Graded:
    """A graded submission: its id, where to read it, and the grade as ``grader grade`` has it."""

    id: int
    url: str
    status: str  # graded, or failed when the service itself could not grade it
    result: GradeResult

    def report(self) -> str:
        return format_grade(self.result, show_hidden=False)

    def to_dict(self) -> dict[str, Any]:
        """The object of ``grader grade --json``, plus ``id`` and ``url``."""
        return {**self.result.to_dict(), "id": self.id, "url": self.url}

    def __str__(self) -> str:
        return self.report()

    def _repr_pretty_(self, printer, cycle: bool) -> None:  # noqa: ANN001 - IPython shows the report
        printer.text(self.report())


Progress = Callable[[str, "int | None"], None]  # (status, queue position)


class Client:
    def __init__(self, server: str, token: str, poll_seconds: float = 0.5):
        import requests

        self.server, self.poll_seconds = server.rstrip("/"), poll_seconds
        self.http = requests.Session()
        self.http.headers.update({"Authorization": f"Bearer {token}", "Accept": "application/json"})

    def create(self, path: Path, exercise: str, course: str | None = None) -> dict[str, Any]:
        """Upload ``path``; returns the API's ``Accepted`` object (id, status, url, ...)."""
        try:
            data = Path(path).read_bytes()
        except OSError as exc:
            raise ClientError(f"cannot read {path}: {exc.strerror or exc}") from None
        form = {"exercise": exercise, **({"course": course} if course else {})}
        return _expect(self._call("POST", self.server + SUBMISSIONS, data=form,
                                  files={"file": (Path(path).name, data)}), "id", "status", "url")

    def fetch(self, url: str) -> dict[str, Any]:
        return _expect(self._call("GET", url), "id", "status", "exercise")

    def wait(self, accepted: dict[str, Any], timeout: float, on_progress: Progress | None = None) -> dict[str, Any]:
        """Poll the submission until it is graded or failed, or raise after ``timeout`` s."""
        deadline = time.monotonic() + timeout
        state = accepted  # the POST's answer: a status, but no grade yet
        while True:
            if on_progress is not None:
                on_progress(state["status"], state.get("queue_position"))
            if state is not accepted and state["status"] in DONE:
                return state
            if time.monotonic() >= deadline:
                where = f" (position {state['queue_position']})" if state.get("queue_position") else ""
                raise ClientError(f"no grade after {timeout:g} s: submission {accepted['id']} is still "
                                  f"{state['status']}{where}. It will be graded; read it later at "
                                  f"{accepted['url']}")
            time.sleep(min(self.poll_seconds, max(0.0, deadline - time.monotonic())))
            state = self.fetch(accepted["url"])

    def _call(self, method: str, url: str, **kwargs: Any) -> dict[str, Any]:
        import requests

        try:
            response = self.http.request(method, url, timeout=(CONNECT_SECONDS, READ_SECONDS), **kwargs)
        except requests.exceptions.ConnectTimeout:
            raise ClientError(f"cannot reach the grader at {self.server}: no answer within "
                              f"{CONNECT_SECONDS:g} s") from None
        except requests.exceptions.ReadTimeout:
            raise ClientError(f"the grader at {self.server} did not answer within {READ_SECONDS:g} s") from None
        except requests.exceptions.SSLError as exc:
            raise ClientError(f"cannot talk securely to the grader at {self.server}: {exc}") from None
        except requests.exceptions.ConnectionError as exc:
            reason = "connection refused" if "refused" in str(exc).lower() else "connection failed"
            raise ClientError(f"cannot reach the grader at {self.server}: {reason} "
                              "(is the address right, and is the server running?)") from None
        except requests.exceptions.RequestException as exc:
            raise ClientError(f"cannot talk to the grader at {self.server}: {exc}") from None
        try:
            body = response.json()
        except ValueError:
            body = None
        if response.ok and isinstance(body, dict):
            return body
        message = _api_message(body)
        if response.status_code == 401:
            raise ClientError(f"the grader refused the API token (401): {message or 'unauthorized'} "
                              "Check --token / GRADER_TOKEN.")
        if message:
            raise ClientError(f"the grader said ({response.status_code}): {message}")
        raise ClientError(f"{url} answered {response.status_code} {response.reason}, which is not a "
                          "torch-grader API response (is the server address right?)")


def _expect(body: dict[str, Any], *keys: str) -> dict[str, Any]:
    if not all(key in body for key in keys):
        raise ClientError("the server's answer is not a torch-grader submission (is the server address right?)")
    return body


def _api_message(body: Any) -> str | None:
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        return str(body["error"].get("message") or "") or None
    return None


_CHECK_FIELDS = {f.name for f in fields(CheckResult)}


def to_grade_result(file: str, data: dict[str, Any]) -> GradeResult:
    """The API's submission object as the engine's result, so it prints as ``grader grade``'s.
    ``seconds`` is the grading time the API reports (from upload to grade for a server that
    reports none)."""
    checks = [{"message": "", **{k: v for k, v in c.items() if k in _CHECK_FIELDS}} for c in data.get("checks", [])]
    error = data.get("error")
    if data.get("status") == "failed":
        error = f"the service could not grade this submission: {error or 'unknown error'}"
    return GradeResult.from_dict({
        "file": file, "exercise": data["exercise"], "score": data.get("score") or 0.0,
        "max_score": data.get("max_score") or 0.0, "checks": checks, "notes": data.get("notes", []),
        "error": error, "seconds": data["seconds"] if data.get("seconds") is not None else _turnaround(data),
    })


def _turnaround(data: dict[str, Any]) -> float:
    try:
        created = dt.datetime.fromisoformat(data["created_at"])
        graded = dt.datetime.fromisoformat(data["graded_at"])
    except (KeyError, TypeError, ValueError):
        return 0.0
    return max(0.0, (graded - created).total_seconds())


def submit(path: str | os.PathLike, exercise: str, *, course: str | None = None, server: str | None = None,
           token: str | None = None, timeout: float = 300.0, on_progress: Progress | None = None) -> Graded:
    """Submit ``path`` (.py or .ipynb) for ``exercise`` and wait for its grade.

    Returns a :class:`Graded`; in a notebook it displays as the report. Raises
    :class:`ClientError` when the server cannot be reached, refuses the token or the file,
    or has not graded it within ``timeout`` seconds."""
    chosen = settings(server, token)
    client = Client(chosen.server, chosen.token)
    accepted = client.create(Path(path), exercise, course)
    done = client.wait(accepted, timeout, on_progress)
    return Graded(id=int(done["id"]), url=accepted["url"], status=done["status"],
                  result=to_grade_result(str(path), done))
