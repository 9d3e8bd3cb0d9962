"""Claiming and finishing grading runs: the database is the truth.

A worker claims the oldest queued run of the highest priority in one statement (PostgreSQL:
``FOR UPDATE SKIP LOCKED`` in the sub-select; SQLite: the whole ``UPDATE ... RETURNING`` runs
under its single writer lock), and holds a lease that it renews while it grades. A run whose
lease expired (its worker was killed) is claimed again; once it used up its attempts it ends
``failed`` with the reason. Finishing is conditional on still holding the lease, so a worker
that lost its lease can never overwrite the run a later worker finished: a run is graded
exactly once.
"""

from __future__ import annotations

import datetime as dt
import functools
import os
import socket
import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Boolean, Float, Integer, String, Text, and_, bindparam, func, insert, or_, select, true, update
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Session

from grader.lms import outbox
from grader.store.models import PRIORITY_REGRADE, CheckRow, GradingRun, Regrade, RunStatus, utcnow
from grader.store.models_lms import DeliveryStatus

DIED_MESSAGE = ("Grading was interrupted {attempts} times (the grading process was killed or "
                "the machine restarted); it was not retried again.")
FAILED_MESSAGE = "Grading failed {attempts} times; the last error was: {error}"


@dataclass(frozen=True)
class Claim:
    run_id: int
    submission_id: int
    attempts: int
    owner: str


@dataclass(frozen=True)
class Finished:
    """A stored grade: its run, and the passback deliveries written with it that are due now
    (a Celery worker publishes them at once; the embedded outbox finds them by polling)."""

    run_id: int
    pending_deliveries: tuple[int, ...]


def new_owner() -> str:
    """``host:pid:nonce``: the host and pid let a restarted server on the same machine spot
    leases whose holder is dead (``expire_dead_local_leases``)."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def claim_next(session: Session, owner: str, lease_seconds: float, max_attempts: int,
               now: dt.datetime | None = None) -> Claim | None:
    now = now or utcnow()
    _fail_exhausted(session, max_attempts, now)
    candidate = (select(GradingRun.id).where(_claimable(now, max_attempts))
                 .order_by(GradingRun.priority, GradingRun.id).limit(1))
    if session.get_bind().dialect.name == "postgresql":
        candidate = candidate.with_for_update(skip_locked=True)
    statement = _taking(GradingRun.id == candidate.scalar_subquery(), owner, _lease_until(now, lease_seconds), now)
    return claim_of(session.connection().execute(statement).first(), owner)


def claim_run(session: Session, run_id: int, owner: str, lease_seconds: float, max_attempts: int,
              now: dt.datetime | None = None) -> Claim | None:
    """Claim the run ``run_id`` (the Celery path: a message names the run). Only a run that
    is queued, or running with an expired lease, and has attempts left is claimed; None
    otherwise, so a duplicated or redelivered message for a run that is graded or still
    leased grades nothing. One conditional UPDATE: two workers holding the same message
    cannot both win (PostgreSQL row lock, SQLite writer lock)."""
    now = now or utcnow()
    claim = take_run(session, run_id, owner, lease_seconds, max_attempts, now)
    if claim is None:  # a run a claim can take has attempts left: only an untaken one can be exhausted
        _fail_exhausted(session, max_attempts, now, run_id=run_id)
    return claim


def take_run(session: Session, run_id: int, owner: str, lease_seconds: float, max_attempts: int,
             now: dt.datetime | None = None) -> Claim | None:
    """``claim_run`` without failing an exhausted run: one atomic statement, which may run
    outside a transaction (``Database.statements``). Failing an exhausted run reads it under
    a row lock first, and needs ``claim_run`` in a unit of work."""
    row = session.connection().execute(taking(), taking_params(run_id, owner, lease_seconds, max_attempts, now)).first()
    return claim_of(row, owner)


@functools.cache
def taking():  # noqa: ANN201
    """The UPDATE ... RETURNING that ``take_run`` runs (for a caller that reads more in the
    same statement), with ``taking_params`` as its parameters; ``claim_of`` turns its row
    into the claim. Built once per process: it is on the path of every grade, and building
    a statement and its cache key anew cost about as much CPU as the round trip."""
    now = bindparam("take_now", type_=GradingRun.__table__.c.started_at.type)
    which = and_(GradingRun.id == bindparam("take_run_id", type_=Integer),
                 _claimable(now, bindparam("take_max_attempts", type_=Integer)))
    return _taking(which, bindparam("take_owner", type_=String),
                   bindparam("take_lease_until", type_=GradingRun.__table__.c.lease_expires_at.type), now)


def taking_params(run_id: int, owner: str, lease_seconds: float, max_attempts: int,
                  now: dt.datetime | None = None) -> dict[str, Any]:
    now = now or utcnow()
    return {"take_run_id": run_id, "take_owner": owner, "take_now": now,
            "take_lease_until": _lease_until(now, lease_seconds), "take_max_attempts": max_attempts}


def claim_of(row: Any, owner: str) -> Claim | None:
    return Claim(run_id=row.id, submission_id=row.submission_id, attempts=row.attempts, owner=owner) if row else None


def _claimable(now, max_attempts):  # noqa: ANN001, ANN202
    """Queued, or running with an expired lease (its worker died), with attempts left."""
    return and_(or_(GradingRun.status == RunStatus.QUEUED.value,
                    and_(GradingRun.status == RunStatus.RUNNING.value, GradingRun.lease_expires_at < now)),
                GradingRun.attempts < max_attempts)


def _lease_until(now: dt.datetime, lease_seconds: float) -> dt.datetime:
    return now + dt.timedelta(seconds=lease_seconds)


def _taking(which, owner, lease_until, now):  # noqa: ANN001, ANN202
    """Lease the run ``which`` selects, in one UPDATE ... RETURNING (values or bind parameters)."""
    return (update(GradingRun).where(which)
            .values(status=RunStatus.RUNNING.value, lease_owner=owner, lease_expires_at=lease_until,
                    attempts=GradingRun.attempts + 1, started_at=now)
            .returning(GradingRun.id, GradingRun.submission_id, GradingRun.attempts))


def _fail_exhausted(session: Session, max_attempts: int, now: dt.datetime, run_id: int | None = None) -> None:
    """Runs with no attempt left end ``failed``, never silently: those whose lease expired
    after their last attempt, and those given back with an error that wait in the queue with
    no attempt left (``max_attempts`` was lowered since), which no claim would ever take.
    ``run_id``: look at that run only."""
    exhausted = select(GradingRun).where(
        or_(and_(GradingRun.status == RunStatus.RUNNING.value, GradingRun.lease_expires_at < now),
            GradingRun.status == RunStatus.QUEUED.value),
        GradingRun.attempts >= max_attempts)
    if run_id is not None:
        exhausted = exhausted.where(GradingRun.id == run_id)
    for run in session.scalars(exhausted.with_for_update(skip_locked=True)):
        if run.status == RunStatus.QUEUED.value and run.error:
            run.error = FAILED_MESSAGE.format(attempts=run.attempts, error=run.error)
        else:
            run.error = DIED_MESSAGE.format(attempts=run.attempts)
        run.status, run.finished_at, run.lease_owner = RunStatus.FAILED.value, now, None


def renew(session: Session, claim: Claim, lease_seconds: float) -> bool:
    """Extend the lease; False if it was lost (expired and claimed by another worker)."""
    now = utcnow()
    result = session.execute(
        update(GradingRun).where(GradingRun.id == claim.run_id, GradingRun.lease_owner == claim.owner,
                                 GradingRun.status == RunStatus.RUNNING.value)
        .values(lease_expires_at=now + dt.timedelta(seconds=lease_seconds))
        .execution_options(synchronize_session=False))
    return result.rowcount == 1


def finish_run(session: Session, claim: Claim, result: dict[str, Any], exercise_hash: str,
               engine_version: str, replies: bool = True) -> Finished | None:
    """Store the grade, its per-check rows, the regrade's new score and the grade's passback
    deliveries in the caller's unit of work; None (and nothing written) if this worker no
    longer holds the lease. The grade is one conditional UPDATE (PostgreSQL locks the row
    and checks the lease again; SQLite runs under its writer lock), on PostgreSQL with the
    check rows and the regrade's score in the same statement. ``replies`` False: the
    submission has no reply targets (``worker.work_of`` read that with the claim), so the
    outbox is not asked, and on PostgreSQL the whole grade is one statement that may run
    outside a transaction (``Database.statements``)."""
    now = utcnow()
    score = result["score"]
    params = {"fin_run_id": claim.run_id, "fin_owner": claim.owner, "fin_now": now, "fin_score": score,
              "fin_max_score": result["max_score"], "fin_result": result, "fin_seconds": result.get("seconds"),
              "fin_hash": exercise_hash, "fin_version": engine_version, "fin_error": result.get("error")}
    checks = [(position, check["name"], check["verdict"], float(check["points"]), float(check["max_points"]),
               check.get("visible", True), check.get("hint"))
              for position, check in enumerate(result.get("checks", []))]
    connection = session.connection()  # Core statements: nothing here needs ORM objects
    if connection.dialect.name == "postgresql":
        # the check rows travel as one array parameter per column; psycopg refuses an array
        # mixing int and float, hence the float() above
        arrays = {f"check_{name}": list(values) for name, values in zip(_CHECK_COLUMNS, zip(*checks))}
        stored = connection.execute(_graded_in_one_statement(bool(checks)), {**params, **arrays}).first()
    else:
        stored = connection.execute(_grading(), params).first()
        if stored is not None and checks:
            connection.execute(insert(CheckRow), [dict(zip(_CHECK_COLUMNS, row), run_id=claim.run_id)
                                                  for row in checks])  # one statement
        if stored is not None and stored.priority >= PRIORITY_REGRADE:  # only regrades have a Regrade row
            connection.execute(update(Regrade).where(Regrade.run_id == claim.run_id).values(new_score=score))
    if stored is None:
        return None
    # the grade's deliveries to platforms, in the same transaction
    made = outbox.enqueue_for(session, claim.run_id, claim.submission_id, now) if replies else []
    return Finished(claim.run_id, tuple(d.id for d in made if d.status == DeliveryStatus.PENDING.value))


_CHECK_COLUMNS = ("position", "name", "verdict", "points", "max_points", "visible", "hint")
_CHECK_TYPES = (Integer, String, String, Float, Float, Boolean, Text)


@functools.cache
def _grading():  # noqa: ANN202
    """The grade: one conditional UPDATE ... RETURNING, still holding the lease; its values
    are ``finish_run``'s parameters. Built once per process, as ``taking`` is."""
    column = GradingRun.__table__.c
    return (update(GradingRun).where(GradingRun.id == bindparam("fin_run_id", type_=Integer),
                                     GradingRun.status == RunStatus.RUNNING.value,
                                     GradingRun.lease_owner == bindparam("fin_owner", type_=String))
            .values(status=RunStatus.GRADED.value, finished_at=bindparam("fin_now", type_=column.finished_at.type),
                    lease_owner=None, lease_expires_at=None,
                    score=bindparam("fin_score", type_=Float), max_score=bindparam("fin_max_score", type_=Float),
                    result=bindparam("fin_result", type_=column.result.type),
                    grading_seconds=bindparam("fin_seconds", type_=Float),
                    exercise_hash=bindparam("fin_hash", type_=String),
                    engine_version=bindparam("fin_version", type_=String),
                    error=bindparam("fin_error", type_=Text))
            .returning(GradingRun.id, GradingRun.priority))


@functools.cache
def _graded_in_one_statement(with_checks: bool):  # noqa: ANN202
    """PostgreSQL: the grade, its check rows and a regrade's new score as one statement
    (data-modifying CTEs): one round trip instead of three. The check rows travel as one
    array parameter per column (``check_<column>``), unnested in the database, so the
    statement does not depend on the rows and is built once per process."""
    run = _grading().cte("graded")
    statement = select(run.c.priority)
    if with_checks:
        arrays = [bindparam(f"check_{name}", type_=ARRAY(kind)) for name, kind in zip(_CHECK_COLUMNS, _CHECK_TYPES)]
        rows = func.unnest(*arrays).table_valued(*_CHECK_COLUMNS).render_derived(name="checks")
        statement = statement.add_cte(insert(CheckRow).from_select(
            ("run_id", *_CHECK_COLUMNS), select(run.c.id, *rows.c).select_from(run).join(rows, true())).cte("rows"))
    return statement.add_cte(update(Regrade).where(Regrade.run_id.in_(select(run.c.id)))
                             .values(new_score=bindparam("fin_score", type_=Float)).cte("regrade"))


def give_back(session: Session, claim: Claim, error: str | None, max_attempts: int) -> None:
    """Return a claimed run to the queue. ``error`` None: the worker is shutting down and the
    attempt does not count. Otherwise grading raised; after the last attempt the run fails."""
    run = session.get(GradingRun, claim.run_id, with_for_update=True)
    if run is None or run.status != RunStatus.RUNNING.value or run.lease_owner != claim.owner:
        return
    run.lease_owner, run.lease_expires_at = None, None
    if error is None:
        run.status, run.attempts = RunStatus.QUEUED.value, max(0, run.attempts - 1)
    elif run.attempts >= max_attempts:
        run.status, run.finished_at = RunStatus.FAILED.value, utcnow()
        run.error = FAILED_MESSAGE.format(attempts=run.attempts, error=error)
    else:
        run.status, run.error = RunStatus.QUEUED.value, error


def expire_dead_local_leases(session: Session, host: str | None = None) -> int:
    """Expire at once the leases held by processes of this host that no longer exist, so that
    a restarted server picks their runs up without waiting for the leases to run out."""
    host = host or socket.gethostname()
    expired = 0
    for run in session.scalars(select(GradingRun).where(GradingRun.status == RunStatus.RUNNING.value,
                                                        GradingRun.lease_owner.like(f"{host}:%"))):
        if held_by_dead_local_process(run.lease_owner, host):
            run.lease_expires_at = utcnow() - dt.timedelta(seconds=1)
            expired += 1
    return expired


def held_by_dead_local_process(owner: str | None, host: str | None = None) -> bool:
    """True if ``owner`` (``host:pid:nonce``, see ``new_owner``) names a process of this host
    that no longer exists: its lease (a grading run's or a delivery's) can be taken at once.
    (The host is compared exactly: a ``LIKE 'host:%'`` pre-filter takes "_" for a wildcard.)"""
    if not owner:
        return False
    holder, _, rest = owner.partition(":")
    pid = rest.split(":")[0]
    return holder == (host or socket.gethostname()) and not _alive(int(pid) if pid.isdigit() else 0)


def _alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
