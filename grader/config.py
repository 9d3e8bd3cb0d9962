"""Service configuration: defaults, then ``instance/config.toml``, then ``GRADER_*`` variables.

One immutable :class:`Config` is built at start and handed to whatever needs it (the app
factory, the workers, the CLI); nothing reads the environment behind its back.
"""

from __future__ import annotations

import dataclasses
import os
import secrets
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping


class ConfigError(Exception):
    """The configuration is malformed; the message says which setting."""


@dataclass(frozen=True)
class Config:
    instance_path: Path = Path("instance")
    database_url: str = ""  # empty: SQLite in the instance folder
    bank: Path | None = None  # GRADER_BANK; None: ./exercises and ./solutions of the current directory
    secret_key: str = ""  # empty: generated once and kept in instance/secret_key
    max_upload_bytes: int = 1 << 20
    queue_limit: int = 200  # beyond this many queued runs, responses say grading is delayed
    lease_seconds: float = 30.0
    max_attempts: int = 3
    poll_seconds: float = 0.25
    workers: int = 0  # 0: one per core
    submit_rate: str = "20 per minute"
    login_rate: str = "10 per minute"
    ratelimit_storage_uri: str = "memory://"
    ratelimit_enabled: bool = True
    secure_cookies: bool = False  # True behind HTTPS
    default_course: str = "demo"
    base_url: str = ""  # GRADER_BASE_URL: the public https://host[/prefix] (LTI URLs, status links)
    trust_proxy: bool = False  # honour X-Forwarded-* (only behind a proxy that sets them)
    webhook_tolerance_seconds: int = 300  # a webhook's timestamp may be this far off
    delivery_horizon_hours: float = 24.0  # how long a grade delivery is retried
    delivery_timeout_seconds: float = 15.0  # per outbound HTTP request
    lti_clock_skew_seconds: int = 60  # allowed between a platform's clock and ours
    queue: str = "embedded"  # GRADER_QUEUE: "embedded" (the database, in-process workers) or "celery"
    broker_url: str = ""  # GRADER_BROKER_URL: redis://127.0.0.1:6379/0 or amqp://guest:guest@127.0.0.1:5672//
    sweep_seconds: float = 30.0  # celery: a run queued (or leased) this long without progress is published again
    log_format: str = "text"  # "text" or "json" (one JSON object per line, with the submission id)
    metrics_token: str = ""  # GRADER_METRICS_TOKEN: /metrics then needs "Authorization: Bearer <token>"; empty: loopback only
    unsafe_sandbox: bool = False
    testing: bool = False
    extra: Mapping[str, Any] = field(default_factory=dict)  # Flask settings passed through

    ENV_PREFIX = "GRADER_"

    @property
    def sqlalchemy_url(self) -> str:
        return self.database_url or f"sqlite:///{(self.instance_path / 'grader.db').resolve()}"

    @property
    def is_sqlite(self) -> bool:
        return self.sqlalchemy_url.startswith("sqlite")

    @property
    def log_dir(self) -> Path:
        return self.instance_path / "logs"

    @property
    def worker_count(self) -> int:
        return self.workers or os.cpu_count() or 1

    def replace(self, **changes: Any) -> "Config":
        return dataclasses.replace(self, **changes)

    @classmethod
    def load(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> "Config":
        """Defaults < ``instance/config.toml`` < environment < ``overrides`` (from the CLI)."""
        environ = os.environ if environ is None else environ
        instance = Path(overrides.get("instance_path") or environ.get("GRADER_INSTANCE_PATH") or "instance")
        values: dict[str, Any] = {}
        toml_path = instance / "config.toml"
        if toml_path.is_file():
            try:
                values.update(tomllib.loads(toml_path.read_text(encoding="utf-8")))
            except tomllib.TOMLDecodeError as exc:
                raise ConfigError(f"{toml_path} is not valid TOML: {exc}") from None
        for f in dataclasses.fields(cls):
            name = cls.ENV_PREFIX + f.name.upper()
            if name in environ and f.name != "extra":
                values[f.name] = environ[name]
        values.update({k: v for k, v in overrides.items() if v is not None})
        values["instance_path"] = instance
        return cls(**_coerce(values))

    def ensure_instance(self) -> "Config":
        """Create the instance folder and return a config whose secret key is set.

        The key is generated on first use and kept in ``instance/secret_key`` (mode 0600), so
        sessions survive a restart."""
        self.instance_path.mkdir(parents=True, exist_ok=True)
        self.log_dir.mkdir(exist_ok=True)
        if self.secret_key:
            return self
        key_file = self.instance_path / "secret_key"
        if not key_file.exists():
            # Written whole under a private name, then linked into place: a second process
            # starting at the same moment never reads a half-written key, and the loser of
            # the race simply uses the winner's key.
            scratch = self.instance_path / f".secret_key.{os.getpid()}.{secrets.token_hex(4)}"
            fd = os.open(scratch, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            try:
                with os.fdopen(fd, "w") as handle:
                    handle.write(secrets.token_hex(32))
                os.link(scratch, key_file)
            except FileExistsError:
                pass
            finally:
                scratch.unlink(missing_ok=True)
        return self.replace(secret_key=key_file.read_text().strip())


def _coerce(values: dict[str, Any]) -> dict[str, Any]:
    fields = {f.name: f for f in dataclasses.fields(Config)}
    unknown = sorted(set(values) - set(fields))
    if unknown:
        raise ConfigError(f"unknown setting(s): {', '.join(unknown)}")
    out: dict[str, Any] = {}
    for name, value in values.items():
        default = fields[name].default
        kind = ("path" if name in ("instance_path", "bank") else "table" if name == "extra"
                else type(default).__name__)
        try:
            out[name] = _coerce_value(kind, value)
        except (TypeError, ValueError):
            raise ConfigError(f"setting {name!r} must be a {kind}, got {value!r}") from None
    return out


_TRUE, _FALSE = ("1", "true", "yes", "on"), ("0", "false", "no", "off", "")


def _coerce_value(kind: str, value: Any) -> Any:
    """``value`` (a string from the environment, or whatever TOML or the CLI gave) as ``kind``;
    TypeError or ValueError when it is not one (``"maybe"`` is no bool, ``1.5`` no int)."""
    if kind == "path":
        if value is not None and not isinstance(value, (str, os.PathLike)):
            raise TypeError(kind)
        return Path(value) if value not in (None, "") else None
    if kind == "bool":
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.strip().lower() in _TRUE + _FALSE:
            return value.strip().lower() in _TRUE
        raise ValueError(kind)
    if isinstance(value, bool) and kind in ("int", "float"):
        raise TypeError(kind)
    if kind == "int":
        if isinstance(value, float) and not value.is_integer():
            raise ValueError(kind)
        return int(value)
    if kind == "float":
        return float(value)
    if kind == "table":
        if not isinstance(value, Mapping):
            raise TypeError(kind)
        return dict(value)
    if kind == "str" and not isinstance(value, str):
        raise TypeError(kind)
    return value
