"""Telling the workers that a run waits: nothing (embedded) or a Celery message (celery).

Entry points publish only AFTER their unit of work committed: a worker that gets the message
must find the run. A broker that is away at that moment fails nothing: the run is stored,
the failure is logged, and the sweeper (``grader.queue.sweeper``) publishes it later. A
message is only a hint; the claim in the database decides, so publishing twice is harmless.
"""

from __future__ import annotations

import logging
import threading
from typing import TYPE_CHECKING, Iterable, Protocol

from grader.queue import celery_app as names
from grader.store.models import PRIORITY_REGRADE

if TYPE_CHECKING:
    from celery import Celery
    from flask import Flask

    from grader.config import Config
    from grader.store.db import Database

log = logging.getLogger("grader.publish")
# A publish waits this little for a broker that is away (the request must not hang); the
# sweeper catches up.
PUBLISH_RETRY = {"max_retries": 1, "interval_start": 0, "interval_step": 0.2, "interval_max": 0.2}


class Publisher(Protocol):
    def publish_runs(self, run_ids: Iterable[int], regrade: bool = False) -> int: ...

    def publish_deliveries(self, delivery_ids: Iterable[int]) -> int: ...


class EmbeddedPublisher:
    """The embedded queue needs no message: its workers poll the table."""

    def publish_runs(self, run_ids: Iterable[int], regrade: bool = False) -> int:
        return 0

    def publish_deliveries(self, delivery_ids: Iterable[int]) -> int:
        return 0


class CeleryPublisher:
    """Sends ``grade_run`` to the interactive or the regrade queue, ``send_delivery`` to the
    deliveries queue. The Celery app is built on first use (thread-safe)."""

    def __init__(self, config: "Config", app: "Celery | None" = None):
        self.config = config
        self._app = app
        self._lock = threading.Lock()

    @property
    def app(self) -> "Celery":
        with self._lock:
            if self._app is None:
                self._app = names.make_celery(self.config)
            return self._app

    def publish_runs(self, run_ids: Iterable[int], regrade: bool = False) -> int:
        queue = names.REGRADE_QUEUE if regrade else names.INTERACTIVE_QUEUE
        return self._send(names.GRADE_TASK, run_ids, queue, "run")

    def publish_deliveries(self, delivery_ids: Iterable[int]) -> int:
        return self._send(names.DELIVERY_TASK, delivery_ids, names.DELIVERY_QUEUE, "delivery")

    def _send(self, task: str, ids: Iterable[int], queue: str, what: str) -> int:
        """How many were published; stops at the first failure (the broker is away: the rest
        would fail the same way, slowly) and logs it."""
        ids = list(ids)
        sent = 0
        if not ids:
            return 0
        try:
            with self.app.producer_or_acquire() as producer:
                for one in ids:
                    self.app.send_task(task, args=[int(one)], queue=queue, routing_key=queue, producer=producer,
                                       retry=True, retry_policy=PUBLISH_RETRY)
                    sent += 1
        except Exception as exc:  # noqa: BLE001 - any broker failure: the sweeper publishes later
            log.warning("could not publish %d %s message(s) to %s (%s: %s); the sweeper will publish them",
                        len(ids) - sent, what, queue, type(exc).__name__, exc)
        return sent

    def queue_depths(self) -> dict[str, int] | None:
        """Messages waiting in each grading queue (a passive declare, on Redis and RabbitMQ);
        None when the broker cannot be asked."""
        depths = {}
        try:
            with self.app.connection_for_write() as connection:
                connection.ensure_connection(max_retries=1)
                for name in (names.INTERACTIVE_QUEUE, names.REGRADE_QUEUE):
                    depths[name] = _depth(connection, name)
        except Exception as exc:  # noqa: BLE001 - the broker is away
            log.info("could not read the queue depths: %s: %s", type(exc).__name__, exc)
            return None
        return depths

    def close(self) -> None:
        with self._lock:
            if self._app is not None:
                self._app.close()
                self._app = None


def _depth(connection, name: str) -> int:  # noqa: ANN001
    """A queue that does not exist holds no message (a 404 closes only its own channel)."""
    channel = connection.channel()
    try:
        return channel.queue_declare(queue=name, passive=True).message_count
    except Exception as exc:  # noqa: BLE001
        if "NOT_FOUND" in str(exc) or getattr(exc, "code", None) == 404:
            return 0
        raise
    finally:
        try:
            channel.close()
        except Exception:  # noqa: BLE001 - already closed by the broker
            pass


def publisher_for(config: "Config") -> Publisher:
    return CeleryPublisher(config) if config.queue == "celery" else EmbeddedPublisher()


def for_app(app: "Flask") -> Publisher:
    """The web app's publisher, made once per app from its config."""
    found = app.extensions.get("grader.publisher")
    if found is None:
        found = app.extensions.setdefault("grader.publisher", publisher_for(app.config["GRADER"]))
    return found


def is_regrade(priority: int) -> bool:
    return priority >= PRIORITY_REGRADE


def publish_queued_of(publisher: Publisher, database: "Database", submission_id: int) -> int:
    """Publish the queued runs of one submission (for entry points that hold only its id)."""
    from sqlalchemy import select

    from grader.store.models import GradingRun, RunStatus

    if isinstance(publisher, EmbeddedPublisher):
        return 0
    with database.reading() as session:
        rows = session.execute(select(GradingRun.id, GradingRun.priority).where(
            GradingRun.submission_id == submission_id, GradingRun.status == RunStatus.QUEUED.value)).all()
    return (publisher.publish_runs([r.id for r in rows if not is_regrade(r.priority)])
            + publisher.publish_runs([r.id for r in rows if is_regrade(r.priority)], regrade=True))
