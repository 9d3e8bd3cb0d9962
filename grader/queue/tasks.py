"""The Celery tasks: ``grade_run(run_id)`` and ``send_delivery(delivery_id)``.

A message only names a row; the task claims that row in the database with the same lease
code as the embedded queue (``claims.claim_run``), so a duplicated or redelivered message
finds the run graded or leased and does nothing. Each pool process owns one database handle
and one warm sandbox (one fork server) for its whole life: built on ``worker_process_init``,
closed on ``worker_process_shutdown``. ``attach_pool`` wires that up; only ``grader worker``
calls it, so the web process that merely publishes never builds a sandbox.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable

from grader.queue import celery_app as names
from grader.queue import claims

if TYPE_CHECKING:
    from celery import Celery

    from grader.config import Config
    from grader.engine.bank import Bank
    from grader.queue.publish import CeleryPublisher
    from grader.queue.worker import RunGrader
    from grader.sandbox.client import Sandbox
    from grader.store.db import Database

log = logging.getLogger("grader.tasks")


@dataclass
class PoolProcess:
    """What one pool process owns for its lifetime."""

    database: "Database"
    sandbox: "Sandbox | None"
    grader: "RunGrader"
    owner: str
    publisher: "CeleryPublisher"


# ----------------------------------------------------------------------------- service functions
def grade_one(state: PoolProcess, config: "Config", run_id: int) -> str:
    """Claim run ``run_id`` and grade it; what came of it ("graded", "given back", "skipped")."""
    from grader.queue.worker import take_with_work, work_of

    # Taking the run is one atomic UPDATE, and a submission never changes once stored.
    with state.database.statements() as session:
        claim, work = take_with_work(session, run_id, state.owner, config.lease_seconds, config.max_attempts)
    if claim is None:  # graded, leased, out of attempts, or leased by a pool process that died
        with state.database.unit_of_work() as session:
            _expire_if_holder_dead(session, run_id)
            claim = claims.claim_run(session, run_id, state.owner, config.lease_seconds, config.max_attempts)
            work = work_of(session, claim) if claim is not None else None
    if claim is None:
        log.info("run %s is not claimable (graded, failed, or leased by a live worker): message dropped",
                 run_id, extra={"run_id": run_id})
        return "skipped"
    stored = state.grader.grade_claim(claim, work)
    if stored is not None:
        # The grade's passback deliveries (written with it) go out through the same engine;
        # a failed publish is left to the sweeper.
        if stored.pending_deliveries:
            state.publisher.publish_deliveries(stored.pending_deliveries)
        return "graded"
    _publish_if_given_back(state, run_id)
    return "given back"


def _publish_if_given_back(state: PoolProcess, run_id: int) -> None:
    """Grading raised and the run went back to the queue with an attempt left: its message
    was used up, so send a new one (the embedded workers would simply claim it again)."""
    from grader.queue.publish import is_regrade
    from grader.store.models import GradingRun, RunStatus

    with state.database.reading() as session:
        run = session.get(GradingRun, run_id)
        again = run is not None and run.status == RunStatus.QUEUED.value
        regrade = again and is_regrade(run.priority)
    if again:
        state.publisher.publish_runs([run_id], regrade=regrade)


def _expire_if_holder_dead(session, run_id: int) -> bool:  # noqa: ANN001
    """A message redelivered because its pool process was killed finds the run still leased
    by that dead process: on the same host we can tell at once and need not wait for the
    lease to run out."""
    from grader.store.models import GradingRun, RunStatus, utcnow

    run = session.get(GradingRun, run_id, with_for_update=True)
    if run is None or run.status != RunStatus.RUNNING.value:
        return False
    if not claims.held_by_dead_local_process(run.lease_owner):
        return False
    run.lease_expires_at = utcnow() - dt.timedelta(seconds=1)
    session.flush()
    return True


def send_one_delivery(database: "Database", config: "Config", owner: str, delivery_id: int) -> str:
    """Claim, send and record one delivery, as the outbox does. A retryable failure sets its
    next attempt; the sweeper publishes it again when that time has come."""
    from grader.lms import outbox

    with database.unit_of_work() as session:
        if not outbox.claim_due(session, owner, outbox.delivery_lease_seconds(config), limit=1, only=delivery_id):
            return "skipped"
    outcome = outbox.Outbox(config, database, owner).attempt(delivery_id)
    return "delivered" if outcome.delivered else "failed"


# ----------------------------------------------------------------------------- the Celery side
def register(app: "Celery", config: "Config") -> None:
    """Register the tasks on ``app`` (called by ``make_celery``). Publishing needs only their
    names; running them needs ``attach_pool`` in the worker."""

    @app.task(name=names.GRADE_TASK, bind=True, ignore_result=True)
    def grade_run(self, run_id: int) -> str:  # noqa: ANN001
        return grade_one(_state(self.app), config, int(run_id))

    @app.task(name=names.DELIVERY_TASK, bind=True, ignore_result=True)
    def send_delivery(self, delivery_id: int) -> str:  # noqa: ANN001
        state = _state(self.app)
        return send_one_delivery(state.database, config, state.owner, int(delivery_id))


def _state(app: "Celery") -> PoolProcess:
    state = getattr(app, "grader_pool", None)
    if state is None:
        raise RuntimeError("this process has no grading resources (worker_process_init did not run)")
    return state


def attach_pool(app: "Celery", config: "Config", open_resources: Callable[[], tuple["Bank", "Sandbox"]],
                on_ready: Callable[[], Any] | None = None, on_shutdown: Callable[[], Any] | None = None) -> None:
    """Build each pool process's database and sandbox when it starts, close them when it
    stops; run ``on_ready``/``on_shutdown`` in the worker's main process (the sweeper)."""
    from celery import signals

    lock = threading.Lock()

    def process_init(**_: Any) -> None:
        from grader.queue.publish import CeleryPublisher
        from grader.queue.worker import RunGrader
        from grader.store.db import Database

        with lock:
            database = Database(config.sqlalchemy_url)
            bank, sandbox = open_resources()
            app.grader_pool = PoolProcess(database, sandbox, RunGrader(config, database, bank, sandbox),
                                          claims.new_owner(), CeleryPublisher(config, app=app))
        log.info("pool process ready (owner %s)", app.grader_pool.owner)

    def process_shutdown(**_: Any) -> None:
        state = getattr(app, "grader_pool", None)
        if state is None:
            return
        app.grader_pool = None
        try:
            if state.sandbox is not None:
                state.sandbox.close()
        finally:
            state.database.dispose()

    signals.worker_process_init.connect(process_init, weak=False, dispatch_uid=f"grader-init-{id(app)}")
    signals.worker_process_shutdown.connect(process_shutdown, weak=False, dispatch_uid=f"grader-down-{id(app)}")
    if on_ready is not None:
        signals.worker_ready.connect(lambda **_: on_ready(), weak=False, dispatch_uid=f"grader-ready-{id(app)}")
    if on_shutdown is not None:
        signals.worker_shutdown.connect(lambda **_: on_shutdown(), weak=False,
                                        dispatch_uid=f"grader-stop-{id(app)}")
