"""The sweeper (GRADER_QUEUE=celery): publish again what a lost message would leave waiting.

A publish can be lost (the broker was away after the commit, or restarted without its
queue) and a worker can die holding a run. Every ``sweep_seconds`` the sweeper publishes:
- runs still ``queued`` for longer than ``sweep_seconds`` since they were last published,
  when their broker queue is empty (then their message is certainly lost). When the queue
  holds messages (a backlog: the run's message is probably in it), only runs not published
  for ``BACKLOG_FACTOR * sweep_seconds``, and each later republish waits twice as long as
  the run had waited before the previous one: a healthy 5,000-run backlog is not sent again
  and again (a duplicate is harmless, but it is work);
- runs ``running`` whose lease expired (their worker died);
- pending deliveries that have been due for longer than ``sweep_seconds``.
It runs in every ``grader worker``'s main process: several sweepers at once only publish
duplicates, which the claims turn into no-ops.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.orm import Session

from grader.store.models import GradingRun, RunStatus, utcnow
from grader.store.models_lms import Delivery, DeliveryStatus

if TYPE_CHECKING:
    from grader.config import Config
    from grader.queue.publish import Publisher
    from grader.store.db import Database

log = logging.getLogger("grader.sweeper")
BATCH = 1000
BACKLOG_FACTOR = 10


@dataclass
class Due:
    interactive: list[int] = field(default_factory=list)
    regrade: list[int] = field(default_factory=list)
    deliveries: list[int] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.interactive) + len(self.regrade) + len(self.deliveries)


def find_due(session: Session, sweep_seconds: float, now: dt.datetime | None = None, limit: int = BATCH,
             depths: dict[str, int] | None = None) -> Due:
    """What to publish again (``mark_published`` then records what was sent). ``depths``:
    messages waiting per queue (None: unknown, treated as a backlog)."""
    from grader.queue.celery_app import INTERACTIVE_QUEUE, REGRADE_QUEUE
    from grader.queue.publish import is_regrade

    now = now or utcnow()
    before = now - dt.timedelta(seconds=sweep_seconds)
    last = func.coalesce(GradingRun.published_at, GradingRun.queued_at)
    rows = session.execute(
        select(GradingRun.id, GradingRun.priority, GradingRun.status, GradingRun.queued_at, GradingRun.published_at)
        .where(or_(and_(GradingRun.status == RunStatus.QUEUED.value, last < before),
                   and_(GradingRun.status == RunStatus.RUNNING.value, GradingRun.lease_expires_at < now)))
        .order_by(GradingRun.priority, GradingRun.id).limit(limit)).all()
    due = Due()
    for row in rows:
        regrade = is_regrade(row.priority)
        backlog = depths is None or depths.get(REGRADE_QUEUE if regrade else INTERACTIVE_QUEUE, 1) > 0
        if row.status == RunStatus.QUEUED.value and backlog:
            last_published = row.published_at or row.queued_at
            waited_before = (last_published - row.queued_at).total_seconds()
            if (now - last_published).total_seconds() < max(BACKLOG_FACTOR * sweep_seconds, waited_before):
                continue
        (due.regrade if regrade else due.interactive).append(row.id)
    due.deliveries = list(session.scalars(
        select(Delivery.id).where(Delivery.status == DeliveryStatus.PENDING.value, Delivery.next_attempt_at < before,
                                  or_(Delivery.lease_owner.is_(None), Delivery.lease_expires_at < now))
        .order_by(Delivery.next_attempt_at).limit(limit)))
    return due


def mark_published(session: Session, run_ids: list[int], now: dt.datetime | None = None) -> None:
    if run_ids:
        session.execute(update(GradingRun).where(GradingRun.id.in_(run_ids)).values(published_at=now or utcnow())
                        .execution_options(synchronize_session=False))


def sweep_once(database: "Database", publisher: "Publisher", sweep_seconds: float) -> Due:
    """Publish what is due; only what the broker took counts as published (a broker that is
    away leaves the runs due for the next sweep)."""
    depths = getattr(publisher, "queue_depths", lambda: None)()
    with database.reading() as session:
        due = find_due(session, sweep_seconds, depths=depths)
    sent = due.interactive[:publisher.publish_runs(due.interactive)]
    sent += due.regrade[:publisher.publish_runs(due.regrade, regrade=True)]
    publisher.publish_deliveries(due.deliveries)
    with database.unit_of_work() as session:
        mark_published(session, sent)
    if due:
        log.info("sweeper published again %d run(s) and %d deliveries",
                 len(due.interactive) + len(due.regrade), len(due.deliveries))
    return due


class Sweeper(threading.Thread):
    """``sweep_once`` every ``config.sweep_seconds`` until stopped; errors are logged, never fatal."""

    def __init__(self, config: "Config", database: "Database", publisher: "Publisher"):
        super().__init__(name="grader-sweeper", daemon=True)
        self.config, self.database, self.publisher = config, database, publisher
        self.stopped = threading.Event()

    def run(self) -> None:
        interval = max(0.5, self.config.sweep_seconds / 2)
        while not self.stopped.wait(interval):
            try:
                sweep_once(self.database, self.publisher, self.config.sweep_seconds)
            except Exception:  # noqa: BLE001 - the database is away for a moment
                log.warning("sweep failed; trying again in %.1f s", interval, exc_info=True)

    def stop(self) -> None:
        self.stopped.set()
        self.join(timeout=5)
