"""A grading worker: claims runs, grades them in its own warm fork server, stores the grade.

One worker process owns one :class:`~grader.sandbox.client.Sandbox` for its whole life; the
student's code only ever runs in that sandbox's children. While a run is being graded a
thread renews its lease (:class:`LeaseKeeper`), so that only a dead worker's runs are
claimed again.
:class:`RunGrader` is the grading half, shared with the Celery task (``grader.queue.tasks``).
"""

from __future__ import annotations

import functools
import logging
import threading
import time
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from typing import Callable

from sqlalchemy import exists, select
from sqlalchemy.orm import Session

from grader.config import Config
from grader.engine.bank import Bank, BankError
from grader.engine.grading import grade_submission
from grader.engine.results import GradeResult
from grader.engine.source import SubmissionError, parse_submission
from grader.ops.logcontext import log_context
from grader.queue import claims
from grader.queue.doorbell import PollingDoorbell
from grader.sandbox.client import Sandbox
from grader.store.catalog import content_hash
from grader.store.db import Database
from grader.store.models import Exercise, Submission
from grader.store.models_lms import ReplyTarget

log = logging.getLogger("grader.worker")


def engine_version() -> str:
    import torch

    try:
        own = version("torch-grader")
    except PackageNotFoundError:
        own = "0+unknown"
    return f"{own}+torch{torch.__version__.split('+')[0]}"


@dataclass(frozen=True)
class Work:
    """What a claimed run grades: the submitted file and its exercise's slug; ``replies``:
    whether the submission has reply targets (platforms its grade goes back to)."""

    slug: str
    filename: str
    data: bytes
    replies: bool


def work_of(session: Session, claim: claims.Claim) -> Work | None:
    """Read in the claim's own transaction (one statement), so that a run costs no separate
    read transaction before grading. None if the submission is gone: that must not undo the
    claim (grading then fails the run with the reason, as any grading error does). Reply
    targets are written with their submission (``submit``, an inbound message), never
    later, so whether there are any is known here and a grade without any skips the
    outbox's read."""
    row = session.execute(select(*_work_columns()).join(Exercise, Submission.exercise_id == Exercise.id)
                          .where(Submission.id == claim.submission_id)).first()
    return _work(row)


def take_with_work(session: Session, run_id: int, owner: str, lease_seconds: float,
                   max_attempts: int) -> tuple[claims.Claim | None, Work | None]:
    """``claims.take_run`` and then ``work_of``: on PostgreSQL one statement (the UPDATE as a
    data-modifying CTE joined to its submission), one round trip on the path of every grade."""
    if session.get_bind().dialect.name != "postgresql":
        claim = claims.take_run(session, run_id, owner, lease_seconds, max_attempts)
        return claim, work_of(session, claim) if claim is not None else None
    row = session.connection().execute(_taking_with_work(),
                                       claims.taking_params(run_id, owner, lease_seconds, max_attempts)).first()
    return claims.claim_of(row, owner), _work(row) if row is not None and row.slug is not None else None


@functools.cache
def _taking_with_work():  # noqa: ANN202
    """``claims.taking`` as a CTE, outer-joined to its submission; built once per process."""
    taken = claims.taking().cte("taken")
    return (select(taken.c.id, taken.c.submission_id, taken.c.attempts, *_work_columns())
            .select_from(taken.outerjoin(Submission, Submission.id == taken.c.submission_id)
                         .outerjoin(Exercise, Submission.exercise_id == Exercise.id)))


def _work_columns() -> tuple:
    replies = exists().where(ReplyTarget.submission_id == Submission.id).label("replies")
    return Exercise.slug, Submission.filename, Submission.content, replies


def _work(row) -> Work | None:  # noqa: ANN001
    return Work(row.slug, row.filename, row.content, bool(row.replies)) if row is not None else None


class RunGrader:
    """What grades a claimed run, shared by both queue back ends: the embedded
    :class:`Worker` (which claims with ``claim_next``) and the Celery task (``claim_run``).
    Owns the exercise cache; the sandbox belongs to the process that built it."""

    def __init__(self, config: Config, db: Database, bank: Bank, sandbox: Sandbox,
                 on_graded: Callable[[int], None] = lambda run_id: None):
        self.config, self.db, self.bank, self.sandbox = config, db, bank, sandbox
        self.on_graded = on_graded
        self._exercises: dict[str, tuple] = {}
        self._version: str | None = None
        self.leases = LeaseKeeper(db, config.lease_seconds)

    @property
    def version(self) -> str:
        if self._version is None:
            self._version = engine_version()
        return self._version

    def grade_claim(self, claim: claims.Claim, work: Work | None = None) -> claims.Finished | None:
        """Grade a run this process holds the lease of, renewing the lease meanwhile, and
        store the grade (or give the run back when grading raised). What was stored, or None.
        ``work``: the submission, if the caller read it with the claim. KeyboardInterrupt /
        SystemExit give the run back without counting the attempt and propagate. Every line
        logged meanwhile carries the run's ids."""
        with log_context(submission_id=claim.submission_id, run_id=claim.run_id):
            return self._grade_claim(claim, work)

    def _grade_claim(self, claim: claims.Claim, work: Work | None) -> claims.Finished | None:
        extra = {"submission_id": claim.submission_id, "run_id": claim.run_id}
        log.info("grading run %s (attempt %s)", claim.run_id, claim.attempts, extra=extra)
        self.leases.hold(claim)
        try:
            if work is None:
                with self.db.reading() as session:
                    work = work_of(session, claim)
            if work is None:
                raise LookupError(f"submission {claim.submission_id} is not in the database")
            result, digest = self._grade(work)
        except BaseException as exc:
            self.leases.release()
            error = None if isinstance(exc, (KeyboardInterrupt, SystemExit)) else f"{type(exc).__name__}: {exc}"
            if error:
                log.exception("grading run %s raised", claim.run_id, extra=extra)
            with self.db.unit_of_work() as session:
                claims.give_back(session, claim, error, self.config.max_attempts)
            if error is None:
                raise
            return None
        self.leases.release()
        # Without passback deliveries to write with it, the grade is one statement on PostgreSQL.
        with self.db.unit_of_work() if work.replies else self.db.statements() as session:
            stored = claims.finish_run(session, claim, result, digest, self.version, replies=work.replies)
        if stored is not None:
            log.info("run %s graded: %s/%s in %.2f s", claim.run_id, result["score"], result["max_score"],
                     result.get("seconds", 0.0), extra=extra)
            self.on_graded(claim.run_id)
        else:
            log.warning("run %s: lease lost before the grade was stored; another worker grades it",
                        claim.run_id, extra=extra)
        return stored

    def _grade(self, work: Work) -> tuple[dict, str]:
        exercise, digest = self._exercise(work.slug)
        try:
            source = parse_submission(work.filename, work.data)
        except SubmissionError as exc:
            return GradeResult.ungradable(work.filename, work.slug, exercise.points, exc.text).to_dict(), digest
        return grade_submission(exercise, source, self.sandbox, file=work.filename).to_dict(), digest

    def _exercise(self, slug: str) -> tuple:
        """The exercise and its content hash; loaded again when its files changed, so that a
        regrade after a check was fixed grades with the fixed check without a restart."""
        try:
            exercise = self.bank.exercise(slug)
            digest = content_hash(exercise)
        except (BankError, OSError) as exc:
            raise RuntimeError(f"exercise {slug!r} is not in the bank: {exc}") from None
        cached = self._exercises.get(slug)
        if cached is None or cached[1] != digest:
            exercise.checks  # load the checks now, so the hash describes what grades
            self._exercises[slug] = (exercise, digest)
        return self._exercises[slug]


class Worker:
    """The embedded queue's worker: polls the table with ``claim_next``."""

    def __init__(self, config: Config, db: Database, bank: Bank, sandbox: Sandbox,
                 doorbell: PollingDoorbell | None = None, owner: str | None = None,
                 on_graded: Callable[[int], None] = lambda run_id: None):
        self.config, self.db, self.bank, self.sandbox = config, db, bank, sandbox
        self.doorbell = doorbell or PollingDoorbell(config.poll_seconds)
        self.owner = owner or claims.new_owner()
        self.grader = RunGrader(config, db, bank, sandbox, on_graded)

    def run_forever(self, stop: threading.Event) -> None:
        log.info("worker %s ready", self.owner)
        while not stop.is_set():
            try:
                busy = self.run_once()
            except Exception:  # the database went away (or the like): wait, then try again
                log.exception("worker %s could not claim or store a run; trying again", self.owner)
                busy = False
            if not busy:
                self.doorbell.wait(stop)

    def run_once(self) -> bool:
        """Claim and grade one run. False when the queue was empty."""
        with self.db.unit_of_work() as session:
            claim = claims.claim_next(session, self.owner, self.config.lease_seconds, self.config.max_attempts)
            work = work_of(session, claim) if claim is not None else None
        if claim is None:
            return False
        self.grader.grade_claim(claim, work)
        return True


class LeaseKeeper:
    """Renews the lease of the run this process is grading, every third of the lease, from
    one thread that lives as long as the process: a thread started and joined for each run
    cost a few milliseconds of every grade on a busy machine. ``hold(claim)`` before grading,
    ``release()`` after; a renewal that finds the lease lost stops renewing that claim
    (``finish_run`` then stores nothing)."""

    def __init__(self, db: Database, lease_seconds: float):
        self.db, self.lease_seconds = db, lease_seconds
        self.interval = max(0.2, lease_seconds / 3)
        self._changed = threading.Condition()
        self._claim: claims.Claim | None = None
        self._due = 0.0
        self._thread: threading.Thread | None = None

    def hold(self, claim: claims.Claim) -> None:
        with self._changed:
            self._claim, self._due = claim, time.monotonic() + self.interval
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="lease-keeper", daemon=True)
                self._thread.start()
            self._changed.notify()

    def release(self) -> None:
        with self._changed:
            self._claim = None

    def _run(self) -> None:
        while True:
            with self._changed:
                while self._claim is None or time.monotonic() < self._due:
                    self._changed.wait(None if self._claim is None else self._due - time.monotonic())
                claim, self._due = self._claim, time.monotonic() + self.interval
            if not self._renew(claim):
                with self._changed:
                    if self._claim is claim:
                        self._claim = None

    def _renew(self, claim: claims.Claim) -> bool:
        """False only when the lease is lost; a database hiccup is tried again next time."""
        with log_context(submission_id=claim.submission_id, run_id=claim.run_id):
            try:
                with self.db.unit_of_work() as session:
                    return claims.renew(session, claim, self.lease_seconds)
            except Exception:  # noqa: BLE001
                log.warning("could not renew the lease of run %s", claim.run_id, exc_info=True)
                return True
