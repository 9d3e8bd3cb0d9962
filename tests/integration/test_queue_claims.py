"""The grading queue on both back ends: claims, leases, retries, and the worker around them.

The claimers started as separate processes (multiprocessing "spawn") import this module, so
its top level imports only the light queue and store modules; whatever loads the bank (and
with it torch) is imported inside the tests that need it.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import multiprocessing
import os
import socket
import subprocess
import threading
from pathlib import Path

import pytest
from sqlalchemy import func, select

from grader.config import Config
from grader.queue import claims
from grader.store.db import Database
from grader.store.models import (PRIORITY_INTERACTIVE, PRIORITY_REGRADE, CheckRow, Course, CourseExercise, Exercise,
                                 GradingRun, Regrade, Submission, User, utcnow)

SLUG = "none-grad-after-rebinding"
SOURCE = b"def f():\n    return 1\n"
LEASE = 30.0
LONG_AGO = 120.0  # seconds: a lease taken then (for LEASE seconds) has expired


@pytest.fixture
def submission_id(db: Database) -> int:
    """One stored submission (and no run yet) that the tests queue runs for."""
    with db.unit_of_work() as session:
        session.add(Course(id="demo", title="Demo"))
        exercise = Exercise(slug=SLUG, title="T", summary="", points=10.0, content_hash="0" * 64)
        student = User(email="student@example.com", display_name="S")
        session.add_all([exercise, student])
        session.flush()
        session.add(CourseExercise(course_id="demo", exercise_id=exercise.id))
        row = Submission(user_id=student.id, course_id="demo", exercise_id=exercise.id, filename="a.py",
                         format="py", content=SOURCE, size=len(SOURCE), sha256=hashlib.sha256(SOURCE).hexdigest())
        session.add(row)
        session.flush()
        return row.id


def queue(db: Database, submission_id: int, n: int = 1, priority: int = PRIORITY_INTERACTIVE) -> list[int]:
    with db.unit_of_work() as session:
        runs = [GradingRun(submission_id=submission_id, priority=priority) for _ in range(n)]
        session.add_all(runs)
        session.flush()
        return [run.id for run in runs]


def claim(db: Database, owner: str = "host:1:a", max_attempts: int = 3, expired: bool = False,
          lease: float = LEASE, ago: float = 0.0) -> claims.Claim | None:
    """Claim in a unit of work of its own, as if ``ago`` seconds ago (``expired``: so long ago
    that the lease has run out by now)."""
    now = utcnow() - dt.timedelta(seconds=LONG_AGO if expired else ago)
    with db.unit_of_work() as session:
        return claims.claim_next(session, owner, lease, max_attempts, now=now)


def run_row(db: Database, run_id: int) -> GradingRun:
    with db.reading() as session:
        run = session.get(GradingRun, run_id)
        run.checks  # load them while the session is open
        return run


def result_of(score: float, checks: int = 2) -> dict:
    """A GradeResult.to_dict() without grading anything."""
    return {"file": "a.py", "exercise": SLUG, "score": score, "max_score": 10.0, "notes": [], "seconds": 0.25,
            "checks": [{"name": f"check_{n}", "verdict": "passed" if n else "failed", "points": score / checks,
                        "max_points": 10.0 / checks, "message": "", "visible": n != 1,
                        **({"hint": "look at .grad"} if n == 0 else {})} for n in range(checks)]}


# -------------------------------------------------------------------------------- claiming
def test_claim_next_takes_the_oldest_run_of_the_highest_priority(db, submission_id):
    regrade_1 = queue(db, submission_id, priority=PRIORITY_REGRADE)
    interactive_1 = queue(db, submission_id)
    regrade_2 = queue(db, submission_id, priority=PRIORITY_REGRADE)
    interactive_2 = queue(db, submission_id)
    order = [claim(db).run_id for _ in range(4)]
    assert order == interactive_1 + interactive_2 + regrade_1 + regrade_2
    assert claim(db) is None


def test_a_claimed_run_is_running_under_a_lease_of_its_owner(db, submission_id):
    (run_id,) = queue(db, submission_id)
    before = utcnow()
    got = claim(db, owner="host:42:abc", lease=12.0)
    assert (got.run_id, got.submission_id, got.attempts, got.owner) == (run_id, submission_id, 1, "host:42:abc")
    run = run_row(db, run_id)
    assert (run.status, run.lease_owner, run.attempts) == ("running", "host:42:abc", 1)
    assert before <= run.started_at <= utcnow()
    assert dt.timedelta(seconds=11) < run.lease_expires_at - before < dt.timedelta(seconds=13)
    assert claim(db, owner="host:43:def") is None  # a live lease is not taken over


def claim_until_empty(db: Database, owner: str) -> list[int]:
    got = []
    while (claimed := claim(db, owner)) is not None:
        got.append(claimed.run_id)
    return got


def test_concurrent_claimers_in_threads_claim_every_run_exactly_once(db, submission_id):
    run_ids = queue(db, submission_id, 100)
    barrier, results, errors = threading.Barrier(8), {}, []

    def claimer(n: int) -> None:
        barrier.wait()
        try:
            results[n] = claim_until_empty(db, f"host:1:thread{n}")
        except Exception as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=claimer, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == []
    claimed = [run_id for got in results.values() for run_id in got]
    assert sorted(claimed) == run_ids  # every run, none twice
    with db.reading() as session:
        rows = session.execute(select(GradingRun.id, GradingRun.lease_owner, GradingRun.attempts,
                                      GradingRun.status)).all()
    owner_of = {run_id: f"host:1:thread{n}" for n, got in results.items() for run_id in got}
    assert all(row.status == "running" and row.attempts == 1 and row.lease_owner == owner_of[row.id]
               for row in rows)


def _claim_in_a_process(url: str, owner: str, start, out) -> None:  # noqa: ANN001
    """Runs in a spawned process: claim until the queue is empty, report the run ids."""
    database = Database(url)
    try:
        start.wait(60)
        out.put((owner, claim_until_empty(database, owner)))
    except BaseException as exc:  # noqa: BLE001
        out.put((owner, repr(exc)))
    finally:
        database.dispose()


def test_concurrent_claimers_in_separate_processes_claim_every_run_exactly_once(db, submission_id):
    context = multiprocessing.get_context("spawn")
    start, out = context.Event(), context.Queue()
    processes = [context.Process(target=_claim_in_a_process, args=(db.url, f"host:{n}:proc", start, out))
                 for n in range(4)]
    for process in processes:
        process.start()  # they boot while the runs are queued, then all start at once
    try:
        run_ids = queue(db, submission_id, 100)
        start.set()
        reports = dict(out.get(timeout=120) for _ in processes)
    finally:
        for process in processes:
            process.join(30)
    assert all(isinstance(got, list) for got in reports.values()), reports
    claimed = [run_id for got in reports.values() for run_id in got]
    assert sorted(claimed) == run_ids
    with db.reading() as session:
        assert set(session.scalars(select(GradingRun.attempts))) == {1}


# ---------------------------------------------------------------------------- leases & retries
def test_an_expired_lease_is_claimed_again_and_counts_an_attempt(db, submission_id):
    (run_id,) = queue(db, submission_id)
    first = claim(db, owner="host:1:dead", expired=True)
    second = claim(db, owner="host:2:alive")
    assert (second.run_id, second.attempts) == (run_id, 2) and first.attempts == 1
    run = run_row(db, run_id)
    assert (run.status, run.lease_owner, run.attempts) == ("running", "host:2:alive", 2)
    assert run.lease_expires_at > utcnow()


def test_after_its_last_attempt_an_expired_run_fails_with_the_reason_and_is_never_claimed(db, submission_id):
    (dying,) = queue(db, submission_id)
    (behind,) = queue(db, submission_id)
    assert claim(db, max_attempts=2, ago=LONG_AGO).run_id == dying
    assert claim(db, max_attempts=2, ago=LONG_AGO / 2).run_id == dying  # attempt 2, expired as well
    assert claim(db, max_attempts=2).run_id == behind  # the exhausted one is not taken a third time
    run = run_row(db, dying)
    assert (run.status, run.attempts, run.lease_owner) == ("failed", 2, None)
    assert run.error == claims.DIED_MESSAGE.format(attempts=2) and "interrupted 2 times" in run.error
    assert run.finished_at is not None and run.score is None
    assert claim(db, max_attempts=2) is None and claim(db, max_attempts=5) is None
    assert run_row(db, dying).status == "failed"


def test_renew_extends_the_lease_only_for_its_owner(db, submission_id):
    queue(db, submission_id)
    mine = claim(db, owner="host:1:me", lease=5.0)
    taken = run_row(db, mine.run_id).lease_expires_at
    impostor = claims.Claim(mine.run_id, mine.submission_id, mine.attempts, "host:2:impostor")
    with db.unit_of_work() as session:
        assert not claims.renew(session, impostor, 600.0)
    assert run_row(db, mine.run_id).lease_expires_at == taken
    with db.unit_of_work() as session:
        assert claims.renew(session, mine, 600.0)
    assert run_row(db, mine.run_id).lease_expires_at - taken > dt.timedelta(seconds=500)
    with db.unit_of_work() as session:
        assert claims.finish_run(session, mine, result_of(5.0), "h", "v") is not None
    with db.unit_of_work() as session:
        assert not claims.renew(session, mine, 600.0)  # nothing to renew once finished


def test_the_lease_keeper_keeps_a_run_graded_longer_than_its_lease_from_being_taken(db, submission_id):
    import time

    from grader.queue.worker import LeaseKeeper

    queue(db, submission_id)
    mine = claim(db, owner="host:1:me", lease=0.6)
    keeper = LeaseKeeper(db, 0.6)  # renews every 0.2 s
    keeper.hold(mine)
    time.sleep(1.5)
    assert claim(db, owner="host:2:other", lease=0.6) is None
    keeper.release()
    time.sleep(1.0)
    taken = claim(db, owner="host:2:other", lease=0.6)
    assert taken is not None and taken.run_id == mine.run_id


def test_a_worker_that_lost_its_lease_cannot_overwrite_the_later_owners_grade(db, submission_id):
    (run_id,) = queue(db, submission_id)
    slow = claim(db, owner="host:1:slow", expired=True)
    fast = claim(db, owner="host:2:fast")
    with db.unit_of_work() as session:
        assert not claims.renew(session, slow, LEASE)
        assert claims.finish_run(session, slow, result_of(1.0, checks=3), "slow-hash", "slow") is None
    with db.unit_of_work() as session:
        assert claims.finish_run(session, fast, result_of(8.0), "fast-hash", "fast") is not None
    with db.unit_of_work() as session:
        assert claims.finish_run(session, slow, result_of(1.0, checks=3), "slow-hash", "slow") is None
        claims.give_back(session, slow, "too late", 3)  # does nothing either
    run = run_row(db, run_id)
    assert (run.status, run.score, run.exercise_hash, run.engine_version, run.error) == (
        "graded", 8.0, "fast-hash", "fast", None)
    with db.reading() as session:
        assert session.scalar(select(func.count()).select_from(CheckRow)) == 2


def test_finish_stores_the_grade_its_check_rows_and_the_regrades_new_score(db, submission_id):
    (run_id,) = queue(db, submission_id, priority=PRIORITY_REGRADE)
    with db.unit_of_work() as session:
        session.add(Regrade(submission_id=submission_id, run_id=run_id, old_score=2.0))
    got = claim(db)
    result = result_of(6.0, checks=3)
    with db.unit_of_work() as session:
        assert claims.finish_run(session, got, result, "abc123", "1.0+torch2") is not None
    run = run_row(db, run_id)
    assert (run.status, run.score, run.max_score, run.result, run.grading_seconds) == (
        "graded", 6.0, 10.0, result, 0.25)
    assert (run.exercise_hash, run.engine_version, run.lease_owner, run.lease_expires_at, run.error) == (
        "abc123", "1.0+torch2", None, None, None)
    assert run.finished_at >= run.started_at
    assert [(c.position, c.name, c.verdict, c.points, c.max_points, c.visible, c.hint) for c in run.checks] == [
        (0, "check_0", "failed", 2.0, 10 / 3, True, "look at .grad"),
        (1, "check_1", "passed", 2.0, 10 / 3, False, None),
        (2, "check_2", "passed", 2.0, 10 / 3, True, None)]
    with db.reading() as session:
        regrade = session.scalar(select(Regrade))
        assert (regrade.old_score, regrade.new_score) == (2.0, 6.0)
    with db.unit_of_work() as session:
        assert claims.finish_run(session, got, result_of(9.0), "x", "y") is None  # a run is graded once
    assert run_row(db, run_id).score == 6.0


def test_give_back_without_an_error_requeues_without_counting_the_attempt(db, submission_id):
    (run_id,) = queue(db, submission_id)
    got = claim(db, max_attempts=1)
    with db.unit_of_work() as session:
        claims.give_back(session, got, None, max_attempts=1)
    run = run_row(db, run_id)
    assert (run.status, run.attempts, run.lease_owner, run.lease_expires_at, run.error) == (
        "queued", 0, None, None, None)
    again = claim(db, max_attempts=1)
    assert (again.run_id, again.attempts) == (run_id, 1)  # the single attempt is still there


def test_give_back_with_an_error_retries_then_fails_after_the_last_attempt(db, submission_id):
    (run_id,) = queue(db, submission_id)
    first = claim(db, max_attempts=2)
    with db.unit_of_work() as session:
        claims.give_back(session, first, "OSError: first", max_attempts=2)
    run = run_row(db, run_id)
    assert (run.status, run.attempts, run.error, run.lease_owner) == ("queued", 1, "OSError: first", None)
    second = claim(db, max_attempts=2)
    assert second.attempts == 2
    with db.unit_of_work() as session:
        claims.give_back(session, second, "OSError: second", max_attempts=2)
    run = run_row(db, run_id)
    assert (run.status, run.attempts) == ("failed", 2) and run.finished_at is not None
    assert "2 times" in run.error and "OSError: second" in run.error
    assert claim(db, max_attempts=2) is None and claim(db, max_attempts=9) is None


def test_a_queued_run_with_no_attempt_left_fails_instead_of_waiting_forever(db, submission_id):
    """A run given back with an error keeps its attempts; if ``max_attempts`` was lowered
    since (a restart with a new configuration), no claim would ever take it."""
    (stuck,) = queue(db, submission_id)
    (behind,) = queue(db, submission_id)
    for _ in range(2):
        got = claim(db, max_attempts=3)
        with db.unit_of_work() as session:
            claims.give_back(session, got, "MemoryError: out of memory", max_attempts=3)
    assert run_row(db, stuck).status == "queued" and run_row(db, stuck).attempts == 2
    assert claim(db, max_attempts=2).run_id == behind
    run = run_row(db, stuck)
    assert (run.status, run.attempts, run.lease_owner) == ("failed", 2, None) and run.finished_at
    assert run.error == claims.FAILED_MESSAGE.format(attempts=2, error="MemoryError: out of memory")


def test_expire_dead_local_leases_frees_only_the_runs_of_dead_processes_on_this_host(db, submission_id):
    host = socket.gethostname()
    finished = subprocess.Popen(["true"])
    finished.wait()
    dead_run, alive_run, remote_run = queue(db, submission_id, 3)
    for owner in (f"{host}:{finished.pid}:dead", f"{host}:{os.getpid()}:alive", "elsewhere.example:1:remote"):
        claim(db, owner=owner, lease=600.0)
    assert claim(db) is None
    with db.unit_of_work() as session:
        assert claims.expire_dead_local_leases(session) == 1
    taken = claim(db, owner="host:9:restarted")
    assert (taken.run_id, taken.attempts) == (dead_run, 2)
    assert claim(db) is None
    assert run_row(db, alive_run).lease_owner == f"{host}:{os.getpid()}:alive"
    assert run_row(db, remote_run).lease_owner == "elsewhere.example:1:remote"
    with db.unit_of_work() as session:
        assert claims.expire_dead_local_leases(session) == 0


def test_expire_dead_local_leases_matches_the_host_name_exactly(db, submission_id):
    finished = subprocess.Popen(["true"])
    finished.wait()
    (run_id,) = queue(db, submission_id)
    claim(db, owner=f"edgeXnode:{finished.pid}:remote", lease=600.0)
    with db.unit_of_work() as session:
        assert claims.expire_dead_local_leases(session, host="edge_node") == 0  # "_" is no wildcard
        assert claims.expire_dead_local_leases(session, host="edgeXnode") == 1


def test_new_owner_names_this_host_and_process_uniquely():
    owner = claims.new_owner()
    host, pid, nonce = owner.rsplit(":", 2)
    assert (host, int(pid)) == (socket.gethostname(), os.getpid()) and nonce
    assert claims.new_owner() != owner


# ---------------------------------------------------------------------------------- worker
@pytest.fixture
def demo_course(db: Database, bank) -> None:  # noqa: ANN001
    from grader.store import accounts, catalog

    with db.unit_of_work() as session:
        course = accounts.ensure_course(session, "demo")
        catalog.add_to_course(session, course, catalog.sync_exercises(session, bank))
        accounts.enrol(session, accounts.create_user(session, "student@example.com"), course)


def submit(db: Database, data: bytes, slug: str = SLUG) -> int:
    from grader.store import accounts, submissions

    with db.unit_of_work() as session:
        student = accounts.user_by_email(session, "student@example.com")
        return submissions.submit(session, student, slug, "solution.py", data, 1 << 20).run.id


def test_worker_gives_back_a_run_whose_exercise_left_the_bank_and_fails_it_in_the_end(
        db, demo_course, service_config, tmp_path):
    from grader.engine.bank import Bank
    from grader.queue.worker import Worker

    run_id = submit(db, SOURCE)
    (tmp_path / "empty-bank" / "exercises").mkdir(parents=True)
    worker = Worker(service_config.replace(max_attempts=2), db, Bank(tmp_path / "empty-bank"), sandbox=None)
    assert worker.run_once()
    run = run_row(db, run_id)
    assert (run.status, run.attempts, run.lease_owner) == ("queued", 1, None)
    assert "not in the bank" in run.error
    assert worker.run_once()
    run = run_row(db, run_id)
    assert (run.status, run.attempts, run.score) == ("failed", 2, None)
    assert "2 times" in run.error and SLUG in run.error
    assert not worker.run_once()


def test_worker_grades_with_the_checks_as_they_are_now_not_as_they_were_at_start(db, submission_id, tmp_path):
    """A check fixed in the bank (then a regrade) must not need a worker restart."""
    import shutil

    from grader.engine.bank import Bank
    from grader.queue.worker import Worker
    from grader.store import catalog

    root = Path(__file__).resolve().parents[2]
    shutil.copytree(root / "exercises" / SLUG, tmp_path / "bank" / "exercises" / SLUG,
                    ignore=shutil.ignore_patterns("__pycache__"))
    bank = Bank(tmp_path / "bank")
    unreadable = b"x = 1\x00"  # graded as ungradable without the sandbox, but with the exercise's hash

    def grade_one() -> GradingRun:
        with db.unit_of_work() as session:
            like = session.get(Submission, submission_id)
            run = GradingRun(submission=Submission(
                user_id=like.user_id, course_id=like.course_id, exercise_id=like.exercise_id, filename="a.py",
                format="py", content=unreadable, size=len(unreadable),
                sha256=hashlib.sha256(unreadable).hexdigest()))
            session.add(run)
            session.flush()
            run_id = run.id
        assert worker.run_once()
        return run_row(db, run_id)

    worker = Worker(Config(lease_seconds=5.0), db, bank, sandbox=None)
    before = grade_one()
    assert before.status == "graded" and before.score == 0.0 and "NUL" in before.result["error"]
    assert before.exercise_hash == catalog.content_hash(bank.exercise(SLUG))
    checks = bank.exercises_dir / SLUG / "checks.py"
    checks.write_text(checks.read_text() + "\n# a check fixed\n")
    after = grade_one()
    assert after.exercise_hash == catalog.content_hash(bank.exercise(SLUG)) != before.exercise_hash


def test_a_worker_outlives_a_database_that_fails_and_stops_when_asked(tmp_path, caplog):
    from grader.engine.bank import Bank
    from grader.queue.worker import Worker

    broken = Database(f"sqlite:///{tmp_path / 'never-migrated.db'}")  # no tables: every claim raises
    (tmp_path / "bank" / "exercises").mkdir(parents=True)
    worker = Worker(Config(poll_seconds=0.02), broken, Bank(tmp_path / "bank"), sandbox=None)
    with pytest.raises(Exception, match="no such table"):
        worker.run_once()
    stop = threading.Event()
    timer = threading.Timer(0.3, stop.set)
    timer.start()
    try:
        worker.run_forever(stop)  # returns once stopped, having logged every failure
    finally:
        timer.cancel()
        broken.dispose()
    failures = [r for r in caplog.records if "could not claim or store a run" in r.getMessage()]
    assert len(failures) >= 2


def test_worker_stores_a_graded_run_with_the_exercise_hash_and_engine_version(
        db, demo_course, service_config, bank, sandbox):
    from grader.queue.worker import Worker, engine_version
    from grader.store import catalog

    solution = (bank.solutions_dir / f"{SLUG}.py").read_bytes()
    run_id = submit(db, solution)
    graded = []
    worker = Worker(service_config, db, bank, sandbox, on_graded=graded.append)
    assert worker.run_once()
    assert not worker.run_once()
    assert graded == [run_id]
    run = run_row(db, run_id)
    assert (run.status, run.attempts, run.lease_owner, run.error) == ("graded", 1, None, None)
    assert run.score == run.max_score == bank.exercise(SLUG).points
    assert run.exercise_hash == catalog.content_hash(bank.exercise(SLUG))
    assert run.engine_version == engine_version() and "torch" in run.engine_version
    assert [c.name for c in run.checks] == [c["name"] for c in run.result["checks"]]
    assert all(c.verdict == "passed" for c in run.checks) and run.grading_seconds > 0
    with db.reading() as session:
        assert session.scalar(select(Exercise.content_hash).where(Exercise.slug == SLUG)) == run.exercise_hash
