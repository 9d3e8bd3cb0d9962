"""Readiness: can this process do its work right now? The database answers, and, with the
Celery queue, the broker takes connections.

Each check returns a short word for the probe's body ("ok", "unreachable (OperationalError)",
"not used") and logs the detail: the body is public, and host names, ports and passwords of
the back ends are not for the public.
"""

from __future__ import annotations

import concurrent.futures
import logging
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy import text

if TYPE_CHECKING:
    from grader.config import Config
    from grader.store.db import Database

log = logging.getLogger("grader.ops")
CHECK_TIMEOUT_SECONDS = 3.0  # a probe must answer before the orchestrator's own timeout (often 5 s)
OK, NOT_USED = "ok", "not used"


@dataclass(frozen=True)
class Readiness:
    checks: dict[str, str]

    @property
    def ready(self) -> bool:
        return all(value in (OK, NOT_USED) for value in self.checks.values())

    def body(self) -> dict:
        return {"status": "ok" if self.ready else "unavailable", "checks": self.checks}


def check_database(database: "Database") -> str:
    """``SELECT 1`` on a connection of the pool (a fresh one if the pool's went stale)."""
    try:
        with database.engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except Exception as exc:  # noqa: BLE001 - any failure means "not ready"
        log.warning("readiness: the database does not answer: %s: %s", type(exc).__name__, exc)
        return f"unreachable ({type(exc).__name__})"
    return OK


def check_broker(url: str, timeout: float = 2.0) -> str:
    """One connection attempt to the Celery broker (Redis or RabbitMQ) through kombu, no retry
    loop: a probe answers within seconds or says no."""
    if not url:
        return "not configured (set broker_url)"
    try:
        from kombu import Connection
    except ImportError:
        return "kombu is not installed"
    connection = Connection(url, connect_timeout=timeout)
    try:
        connection.ensure_connection(max_retries=1, interval_start=0, interval_step=0.2, timeout=timeout)
    except Exception as exc:  # noqa: BLE001
        log.warning("readiness: the broker %s does not answer: %s: %s", connection.as_uri(),
                    type(exc).__name__, exc)
        return f"unreachable ({type(exc).__name__})"
    finally:
        connection.release()
    return OK


def readiness(config: "Config", database: "Database") -> Readiness:
    """Both checks at once, each bounded by :data:`CHECK_TIMEOUT_SECONDS` (a database host that
    drops packets would otherwise hold the probe until TCP gives up)."""
    jobs = {"database": (check_database, database)}
    if config.queue == "celery":
        jobs["broker"] = (check_broker, config.broker_url)
    pool = concurrent.futures.ThreadPoolExecutor(len(jobs), thread_name_prefix="readyz")
    try:
        futures = {name: pool.submit(fn, arg) for name, (fn, arg) in jobs.items()}
        deadline = time.monotonic() + CHECK_TIMEOUT_SECONDS
        checks = {}
        for name, future in futures.items():
            try:
                checks[name] = future.result(timeout=max(0.0, deadline - time.monotonic()))
            except concurrent.futures.TimeoutError:
                checks[name] = f"no answer within {CHECK_TIMEOUT_SECONDS:g} s"
    finally:
        pool.shutdown(wait=False)  # a hung check must not hold the answer
    checks.setdefault("broker", NOT_USED)
    return Readiness(checks)
