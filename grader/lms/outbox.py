"""The grade outbox: nothing lost, nothing sent twice by mistake.

A :class:`Delivery` per (graded run, reply target) is written by ``enqueue_for`` in the
same transaction as the grade (``grader.queue.claims.finish_run``), so a grade is never stored
without its way out, and a rolled-back grade leaves nothing to send. The sender claims due
deliveries with a lease (like grading runs: PostgreSQL ``FOR UPDATE SKIP LOCKED``, SQLite
under its single writer lock), sends each with no transaction open, and records the
outcome conditionally on still holding the lease. Every attempt of a delivery carries the
same ``message_id`` (the ``webhook-id``), so a receiver that saw an attempt whose answer we
lost can drop the repeat. A regrade is a new run, hence new deliveries and new ids.
"""

from __future__ import annotations

import concurrent.futures
import datetime as dt
import logging
import random
import socket
import threading
import uuid
from typing import TYPE_CHECKING, Callable

from sqlalchemy import and_, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload

from grader.lms.outcome import Outcome
from grader.ops.logcontext import log_context
from grader.store.models import GradingRun, Submission, utcnow
from grader.store.models_lms import Delivery, DeliveryStatus, DisabledDestination, ReplyTarget, TargetKind

if TYPE_CHECKING:
    from grader.config import Config
    from grader.store.db import Database

log = logging.getLogger("grader.outbox")

BACKOFF_BASE_SECONDS = 10.0
BACKOFF_CAP_SECONDS = 3600.0
DEFAULT_LIMIT = 200
Backoff = Callable[[int], float]


# ----------------------------------------------------------------------------- enqueue
def new_message_id() -> str:
    return "msg_" + uuid.uuid4().hex


def enqueue_for(session: Session, run_id: int, submission_id: int, now: dt.datetime | None = None) -> list[Delivery]:
    """One delivery per reply target of the run's submission, in the caller's transaction.

    A target whose destination was disabled (it answered 410) gets a ``disabled`` row all
    the same, so the delivery log shows that this grade did not go out and why. Calling it
    twice for a run adds nothing (UNIQUE run_id + target_id)."""
    now = now or utcnow()
    targets = list(session.scalars(select(ReplyTarget).where(ReplyTarget.submission_id == submission_id)
                                   .order_by(ReplyTarget.id)))
    if not targets:
        return []
    existing = set(session.scalars(select(Delivery.target_id).where(Delivery.run_id == run_id)))
    disabled = {(row.kind, row.url): row for row in session.scalars(select(DisabledDestination).where(
        DisabledDestination.url.in_([t.url for t in targets])))}
    made = []
    for target in targets:
        if target.id in existing:
            continue
        gone = disabled.get((target.kind, target.url))
        delivery = Delivery(run_id=run_id, target_id=target.id, message_id=new_message_id(), attempts=0,
                            status=(DeliveryStatus.DISABLED if gone else DeliveryStatus.PENDING).value,
                            next_attempt_at=now, created_at=now,
                            last_error=_disabled_note(gone) if gone else None)
        session.add(delivery)
        made.append(delivery)
    session.flush()
    return made


def _disabled_note(row: DisabledDestination) -> str:
    return f"destination disabled since {row.disabled_at:%Y-%m-%d %H:%M} UTC" + (f": {row.reason}" if row.reason else "")


# ----------------------------------------------------------------------------- claims
def claim_due(session: Session, owner: str, lease_seconds: float, now: dt.datetime | None = None,
              limit: int = 10, only: int | None = None) -> list[int]:
    """Lease up to ``limit`` pending deliveries that are due (or whose lease ran out) in one
    statement; their ids, oldest due first. ``only``: that delivery or none (the Celery task,
    whose message names one)."""
    now = now or utcnow()
    candidate = (select(Delivery.id)
                 .where(Delivery.status == DeliveryStatus.PENDING.value, Delivery.next_attempt_at <= now,
                        or_(Delivery.lease_owner.is_(None), Delivery.lease_expires_at < now))
                 .order_by(Delivery.next_attempt_at, Delivery.id).limit(limit))
    if only is not None:
        candidate = candidate.where(Delivery.id == only)
    if session.get_bind().dialect.name == "postgresql":
        candidate = candidate.with_for_update(skip_locked=True)
    rows = session.execute(
        update(Delivery).where(Delivery.id.in_(candidate.scalar_subquery()))
        .values(lease_owner=owner, lease_expires_at=now + dt.timedelta(seconds=lease_seconds))
        .returning(Delivery.id, Delivery.next_attempt_at)
        .execution_options(synchronize_session=False)).all()
    return [row.id for row in sorted(rows, key=lambda r: (r.next_attempt_at, r.id))]


def full_jitter(attempts: int, base: float = BACKOFF_BASE_SECONDS, cap: float = BACKOFF_CAP_SECONDS,
                rng: random.Random | None = None) -> float:
    """Seconds to wait after the ``attempts``-th failed attempt: uniform in [0, min(cap,
    base * 2**(attempts-1))] ("full jitter"), so receivers that came back are not hit by
    every sender at the same instant."""
    ceiling = min(cap, base * 2 ** max(0, attempts - 1))
    return (rng or random).uniform(0, ceiling)


def record(session: Session, delivery_id: int, owner: str, outcome: Outcome, now: dt.datetime | None = None, *,
           horizon_hours: float = 24.0, backoff: Backoff = full_jitter) -> bool:
    """Store what an attempt came to. False (nothing written) if ``owner`` lost the lease."""
    now = now or utcnow()
    delivery = session.get(Delivery, delivery_id, with_for_update=True)
    if delivery is None or delivery.status != DeliveryStatus.PENDING.value or delivery.lease_owner != owner:
        return False
    delivery.attempts += 1
    delivery.lease_owner, delivery.lease_expires_at = None, None
    delivery.last_status = outcome.status
    if outcome.sent_timestamp:
        delivery.sent_timestamp = outcome.sent_timestamp
    if outcome.delivered:
        delivery.status, delivery.delivered_at, delivery.last_error = DeliveryStatus.DELIVERED.value, now, None
        return True
    delivery.last_error = outcome.error or (f"HTTP {outcome.status}" if outcome.status else "failed")
    if outcome.disable:
        _disable(session, delivery, delivery.last_error, now)
    elif outcome.permanent:
        delivery.status = DeliveryStatus.FAILED.value
    else:
        wait = backoff(delivery.attempts)
        if outcome.retry_after is not None:
            wait = max(wait, outcome.retry_after)
        due = now + dt.timedelta(seconds=wait)
        if due > (delivery.replayed_at or delivery.created_at) + dt.timedelta(hours=horizon_hours):
            delivery.status = DeliveryStatus.FAILED.value
            delivery.last_error = (f"gave up after {delivery.attempts} attempts over {horizon_hours:g} h; "
                                   f"the last error: {delivery.last_error}")
        else:
            delivery.next_attempt_at = due
    return True


def _disable(session: Session, delivery: Delivery, reason: str, now: dt.datetime) -> None:
    """410 Gone: this destination is done with us. Remember it, and stop every other grade
    waiting to go there (they stay in the log as ``disabled``)."""
    target = session.get(ReplyTarget, delivery.target_id)
    delivery.status = DeliveryStatus.DISABLED.value
    exists = session.scalar(select(DisabledDestination.id).where(DisabledDestination.kind == target.kind,
                                                                 DisabledDestination.url == target.url))
    if exists is None:
        try:
            with session.begin_nested():
                session.add(DisabledDestination(kind=target.kind, url=target.url, disabled_at=now, reason=reason))
        except IntegrityError:  # another sender disabled it at the same moment
            pass
    same = select(ReplyTarget.id).where(ReplyTarget.kind == target.kind, ReplyTarget.url == target.url)
    session.execute(update(Delivery).where(Delivery.target_id.in_(same.scalar_subquery()),
                                           Delivery.status == DeliveryStatus.PENDING.value,
                                           Delivery.id != delivery.id)
                    .values(status=DeliveryStatus.DISABLED.value, lease_owner=None, lease_expires_at=None,
                            last_error=f"destination disabled: {reason}")
                    .execution_options(synchronize_session=False))


def expire_dead_local_leases(session: Session, host: str | None = None) -> int:
    """Free at once the deliveries leased by dead processes of this host (after a kill -9)."""
    from grader.queue import claims  # (claims imports this module: it enqueues with the grade)

    host = host or socket.gethostname()
    expired = 0
    for delivery in session.scalars(select(Delivery).where(Delivery.status == DeliveryStatus.PENDING.value,
                                                           Delivery.lease_owner.like(f"{host}:%"))):
        if claims.held_by_dead_local_process(delivery.lease_owner, host):
            delivery.lease_owner, delivery.lease_expires_at = None, None
            expired += 1
    return expired


# ----------------------------------------------------------------------------- instructor actions
class ReplayError(Exception):
    """The delivery cannot be replayed; the message says why."""


def replay(session: Session, delivery_id: int, now: dt.datetime | None = None) -> Delivery:
    """Send a delivery again now: same message id (the receiver may dedupe), attempts kept,
    and a fresh retry horizon from now. Replaying a disabled one re-enables its destination."""
    now = now or utcnow()
    delivery = session.get(Delivery, delivery_id, with_for_update=True)
    if delivery is None:
        raise ReplayError(f"there is no delivery {delivery_id}")
    if delivery.status == DeliveryStatus.PENDING.value:
        raise ReplayError(f"delivery {delivery_id} is pending already (next attempt "
                          f"{delivery.next_attempt_at:%Y-%m-%d %H:%M:%S} UTC)")
    if delivery.status == DeliveryStatus.DISABLED.value:
        target = session.get(ReplyTarget, delivery.target_id)
        for row in session.scalars(select(DisabledDestination).where(DisabledDestination.kind == target.kind,
                                                                     DisabledDestination.url == target.url)):
            session.delete(row)
    delivery.status, delivery.next_attempt_at, delivery.replayed_at = DeliveryStatus.PENDING.value, now, now
    delivery.lease_owner, delivery.lease_expires_at, delivery.delivered_at = None, None, None
    session.flush()
    return delivery


def list_deliveries(session: Session, failed_only: bool = False, course_id: str | None = None,
                    limit: int = DEFAULT_LIMIT) -> list[Delivery]:
    """Deliveries newest first, with their target, run, submission and user loaded.
    ``failed_only``: the failed and disabled ones (those an instructor may want to replay)."""
    query = (select(Delivery).join(GradingRun, Delivery.run_id == GradingRun.id)
             .join(Submission, GradingRun.submission_id == Submission.id)
             .options(selectinload(Delivery.target),
                      selectinload(Delivery.run).selectinload(GradingRun.submission).selectinload(Submission.user),
                      selectinload(Delivery.run).selectinload(GradingRun.submission).selectinload(Submission.exercise))
             .order_by(Delivery.id.desc()).limit(limit))
    if failed_only:
        query = query.where(Delivery.status.in_((DeliveryStatus.FAILED.value, DeliveryStatus.DISABLED.value)))
    if course_id is not None:
        query = query.where(Submission.course_id == course_id)
    return list(session.scalars(query))


def course_of(session: Session, delivery_id: int) -> str | None:
    return session.scalar(select(Submission.course_id).join(GradingRun, GradingRun.submission_id == Submission.id)
                          .join(Delivery, and_(Delivery.run_id == GradingRun.id, Delivery.id == delivery_id)))


# ----------------------------------------------------------------------------- sending
def send_one(database: "Database", config: "Config", delivery_id: int) -> Outcome:
    """Send one attempt of a delivery (no transaction is open while the request runs).
    Whatever a sender raises becomes a retryable error."""
    with database.reading() as session:
        kind = session.scalar(select(ReplyTarget.kind).join(Delivery, Delivery.target_id == ReplyTarget.id)
                              .where(Delivery.id == delivery_id))
    try:
        if kind == TargetKind.CALLBACK.value:
            from grader.lms import callback as sender
        elif kind == TargetKind.LTI_AGS.value:
            try:
                from grader.lms import ags as sender
            except ImportError as exc:
                return Outcome(error=f"the LTI grade sender is not available: {exc}")
        else:
            return Outcome(error=f"unknown reply target kind {kind!r}", permanent=True)
        return sender.send(database, config, delivery_id)
    except Exception as exc:  # noqa: BLE001 - a sender's bug must not lose the grade
        log.exception("delivery %d: the sender raised", delivery_id)
        return Outcome(error=f"{type(exc).__name__}: {exc}"[:500])


def delivery_lease_seconds(config: "Config") -> float:
    """A delivery's lease outlives its longest attempt, so no second sender takes it meanwhile."""
    return max(config.lease_seconds, 2 * config.delivery_timeout_seconds + 10)


class Outbox:
    """The sender loop: claims due deliveries, sends a few at a time in threads (one 15 s
    hang does not hold up the others), records each outcome. Runs in its own process
    (``grader serve`` starts it), so it never slows grading or pages."""

    def __init__(self, config: "Config", database: "Database", owner: str | None = None, *,
                 backoff: Backoff = full_jitter, threads: int = 4, clock: Callable[[], dt.datetime] = utcnow):
        from grader.queue.claims import new_owner

        self.config, self.database, self.owner = config, database, owner or new_owner()
        self.backoff, self.threads, self.clock = backoff, threads, clock
        self.lease_seconds = delivery_lease_seconds(config)
        self.idle_seconds = min(1.0, max(0.05, config.poll_seconds))

    def claim(self, limit: int) -> list[int]:
        with self.database.unit_of_work() as session:
            return claim_due(session, self.owner, self.lease_seconds, self.clock(), limit)

    def attempt(self, delivery_id: int) -> Outcome:
        """Send one claimed delivery and record the outcome."""
        with log_context(delivery_id=delivery_id):  # on every line of this attempt, in this thread
            outcome = send_one(self.database, self.config, delivery_id)
            with self.database.unit_of_work() as session:
                record(session, delivery_id, self.owner, outcome, self.clock(),
                       horizon_hours=self.config.delivery_horizon_hours, backoff=self.backoff)
            if outcome.delivered:
                log.info("delivery %d delivered (HTTP %s)", delivery_id, outcome.status)
            else:
                log.warning("delivery %d: %s", delivery_id, outcome.error)
        return outcome

    def run_once(self) -> int:
        """Claim up to ``threads`` due deliveries, send them at once, record them; how many
        were attempted. (No more than can be sent in parallel: a lease must not run out
        while its delivery waits behind others.)"""
        ids = self.claim(self.threads)
        if ids:
            with concurrent.futures.ThreadPoolExecutor(self.threads, thread_name_prefix="outbox") as pool:
                list(pool.map(self.attempt, ids))
        return len(ids)

    def run_forever(self, stop: threading.Event) -> None:
        with self.database.unit_of_work() as session:
            freed = expire_dead_local_leases(session)
        if freed:
            log.info("%d delivery lease(s) of dead senders freed", freed)
        inflight: set[concurrent.futures.Future] = set()
        with concurrent.futures.ThreadPoolExecutor(self.threads, thread_name_prefix="outbox") as pool:
            while not stop.is_set():
                free = self.threads - len(inflight)
                try:
                    ids = self.claim(free) if free > 0 else []
                except Exception:  # noqa: BLE001 - the database is away for a moment
                    log.exception("claiming deliveries failed")
                    ids = []
                inflight |= {pool.submit(self.attempt, delivery_id) for delivery_id in ids}
                if not inflight:
                    stop.wait(self.idle_seconds)
                    continue
                done, inflight = concurrent.futures.wait(inflight, timeout=self.idle_seconds,
                                                         return_when=concurrent.futures.FIRST_COMPLETED)
                for future in done:
                    if future.exception() is not None:
                        log.error("recording a delivery failed: %s", future.exception())
