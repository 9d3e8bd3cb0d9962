"""The Celery path's database side on both back ends: ``claim_run`` (a message names one
run), the sweeper's choice of what to publish again, the publisher when the broker is away,
and the clean refusals of ``grader worker``. No broker is needed here (the end-to-end tests
in tests/e2e/test_celery_*.py use the real ones)."""

from __future__ import annotations

import datetime as dt
import socket
import threading

import pytest
from click.testing import CliRunner
from sqlalchemy import select, update
from test_queue_claims import queue, submission_id  # noqa: F401 - the fixture

from grader.config import Config
from grader.queue import claims, sweeper
from grader.queue.publish import CeleryPublisher, EmbeddedPublisher, publisher_for
from grader.store.db import Database
from grader.store.models import PRIORITY_REGRADE, GradingRun, utcnow

LEASE = 30.0
DEAD_BROKER = "redis://127.0.0.1:1/0"  # nothing listens on port 1


def run_row(db: Database, run_id: int) -> GradingRun:
    with db.reading() as session:
        return session.get(GradingRun, run_id)


def claim_run(db: Database, run_id: int, owner: str = "host:1:a", max_attempts: int = 3,
              now: dt.datetime | None = None) -> claims.Claim | None:
    with db.unit_of_work() as session:
        return claims.claim_run(session, run_id, owner, LEASE, max_attempts, now)


def test_claim_run_claims_that_queued_run_and_not_another(db, submission_id):  # noqa: F811
    first, second = queue(db, submission_id, 2)
    claim = claim_run(db, second)
    assert claim is not None and claim.run_id == second and claim.attempts == 1
    assert run_row(db, second).status == "running" and run_row(db, second).lease_owner == "host:1:a"
    assert run_row(db, first).status == "queued"


def test_a_second_message_for_a_leased_or_graded_run_claims_nothing(db, submission_id):  # noqa: F811
    (run_id,) = queue(db, submission_id)
    claim = claim_run(db, run_id, owner="host:1:a")
    assert claim_run(db, run_id, owner="host:2:b") is None  # still leased by a live holder
    with db.unit_of_work() as session:
        assert claims.finish_run(session, claim, {"score": 1.0, "max_score": 1.0, "checks": []}, "h", "v") is not None
    assert claim_run(db, run_id, owner="host:2:b") is None  # graded
    assert run_row(db, run_id).attempts == 1


def test_the_task_takes_its_run_and_reads_the_submission_outside_a_transaction_and_only_once(
        db, submission_id):  # noqa: F811
    from test_queue_claims import SLUG, SOURCE

    from grader.queue.worker import take_with_work

    (run_id,) = queue(db, submission_id)
    with db.statements() as session:
        claim, work = take_with_work(session, run_id, "host:1:a", LEASE, 3)
    assert claim.run_id == run_id and claim.submission_id == submission_id and claim.attempts == 1
    assert (work.slug, work.filename, work.data, work.replies) == (SLUG, "a.py", SOURCE, False)
    assert run_row(db, run_id).status == "running" and run_row(db, run_id).lease_owner == "host:1:a"
    with db.statements() as session:
        assert take_with_work(session, run_id, "host:2:b", LEASE, 3) == (None, None)
    with db.statements() as session:  # one atomic statement: it commits without a transaction
        stored = claims.finish_run(session, claim, {"score": 1.0, "max_score": 1.0, "checks": [
            {"name": "c", "verdict": "passed", "points": 1.0, "max_points": 1.0}]}, "h", "v", replies=False)
    assert stored is not None and run_row(db, run_id).status == "graded"
    with db.reading() as session:
        assert [row.name for row in session.get(GradingRun, run_id).checks] == ["c"]


def test_claim_run_takes_over_an_expired_lease_and_fails_a_run_out_of_attempts(db, submission_id):  # noqa: F811
    (run_id,) = queue(db, submission_id)
    long_ago = utcnow() - dt.timedelta(seconds=10 * LEASE)
    assert claim_run(db, run_id, owner="host:1:a", now=long_ago) is not None
    again = claim_run(db, run_id, owner="host:2:b")
    assert again is not None and again.attempts == 2 and run_row(db, run_id).lease_owner == "host:2:b"
    with db.unit_of_work() as session:
        session.execute(update(GradingRun).where(GradingRun.id == run_id)
                        .values(lease_expires_at=long_ago))
    assert claim_run(db, run_id, owner="host:3:c", max_attempts=2) is None
    failed = run_row(db, run_id)
    assert failed.status == "failed" and "interrupted 2 times" in failed.error


def test_only_one_of_many_concurrent_claims_of_one_run_wins(db, submission_id):  # noqa: F811
    (run_id,) = queue(db, submission_id)
    won, barrier = [], threading.Barrier(6)

    def contender(n: int) -> None:
        barrier.wait()
        if claim_run(db, run_id, owner=f"host:{n}:x") is not None:
            won.append(n)

    threads = [threading.Thread(target=contender, args=(n,)) for n in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert len(won) == 1 and run_row(db, run_id).attempts == 1


def test_the_sweeper_republishes_stale_queued_runs_and_expired_leases_not_fresh_ones(db, submission_id):  # noqa: F811
    stale, fresh, leased, regrade = queue(db, submission_id, 4)
    now = utcnow()
    with db.unit_of_work() as session:
        session.execute(update(GradingRun).where(GradingRun.id.in_([stale, leased, regrade]))
                        .values(queued_at=now - dt.timedelta(seconds=60)))
        session.execute(update(GradingRun).where(GradingRun.id == regrade).values(priority=PRIORITY_REGRADE))
        session.execute(update(GradingRun).where(GradingRun.id == leased).values(
            status="running", lease_owner="gone:1:a", lease_expires_at=now - dt.timedelta(seconds=1)))
    with db.reading() as session:
        due = sweeper.find_due(session, sweep_seconds=5, now=now, depths={"grading.interactive": 0,
                                                                          "grading.regrade": 0})
    assert sorted(due.interactive) == sorted([stale, leased]) and due.regrade == [regrade]
    with db.unit_of_work() as session:
        sweeper.mark_published(session, due.interactive + due.regrade, now)
    with db.reading() as session:
        assert sweeper.find_due(session, sweep_seconds=5, now=now + dt.timedelta(seconds=1),
                                depths={"grading.interactive": 0, "grading.regrade": 0}).interactive == [leased]


def test_behind_a_backlog_the_sweeper_waits_longer_and_longer_before_publishing_again(db, submission_id):  # noqa: F811
    (run_id,) = queue(db, submission_id)
    queued_at = utcnow() - dt.timedelta(seconds=30)
    with db.unit_of_work() as session:
        session.execute(update(GradingRun).where(GradingRun.id == run_id).values(queued_at=queued_at))
    backlog = {"grading.interactive": 500, "grading.regrade": 0}

    def due_at(seconds_after_queued: float) -> bool:
        with db.reading() as session:
            return run_id in sweeper.find_due(session, 2, now=queued_at + dt.timedelta(seconds=seconds_after_queued),
                                              depths=backlog).interactive

    assert not due_at(15) and due_at(25)  # behind a backlog: first after 10 sweeps
    with db.unit_of_work() as session:
        sweeper.mark_published(session, [run_id], queued_at + dt.timedelta(seconds=25))
    assert not due_at(45) and due_at(51)  # then after as long again as it had waited


def test_publishing_to_a_broker_that_is_away_fails_nothing():
    publisher = CeleryPublisher(Config(queue="celery", broker_url=DEAD_BROKER))
    try:
        assert publisher.publish_runs([1, 2, 3]) == 0
        assert publisher.queue_depths() is None
    finally:
        publisher.close()
    assert isinstance(publisher_for(Config()), EmbeddedPublisher)
    assert EmbeddedPublisher().publish_runs([1]) == 0


def test_an_api_submission_is_accepted_and_kept_while_the_broker_is_away(service_config, db, demo, client):
    from service_fixtures import make_token

    from grader.web import create_app

    app = create_app(service_config.replace(queue="celery", broker_url=DEAD_BROKER), db)
    token = make_token(db, demo["student"].email)
    response = app.test_client().post("/api/v1/submissions", headers={"Authorization": f"Bearer {token}"},
                                      json={"exercise": "none-grad-after-rebinding", "source": "x = 1\n"})
    assert response.status_code == 202, response.text
    with db.reading() as session:
        (run,) = session.scalars(select(GradingRun)).all()
        assert run.status == "queued" and run.published_at is None  # the sweeper's to publish


@pytest.mark.parametrize("settings, message", [
    ({}, "set GRADER_QUEUE=celery"),
    ({"GRADER_QUEUE": "celery"}, "GRADER_BROKER_URL is not set"),
    ({"GRADER_QUEUE": "celery", "GRADER_BROKER_URL": DEAD_BROKER}, "SQLite is one file on one machine"),
])
def test_grader_worker_refuses_cleanly_without_celery_a_broker_or_a_shared_database(tmp_path, settings, message):
    from grader.cli import worker as _  # noqa: F401 - registers the command
    from grader.cli.base import main

    env = {"GRADER_INSTANCE_PATH": str(tmp_path / "instance"), "GRADER_QUEUE": "", "GRADER_BROKER_URL": "",
           "GRADER_DATABASE_URL": "", **settings}
    if "GRADER_QUEUE" not in settings:
        env.pop("GRADER_QUEUE")
    result = CliRunner().invoke(main, ["worker"], env=env)
    assert result.exit_code == 1, result.output
    assert message in result.output and "Traceback" not in result.output


def test_grader_worker_ping_without_a_broker_exits_1_with_the_reason(tmp_path):
    from grader.cli import worker as _  # noqa: F401
    from grader.cli.base import main

    result = CliRunner().invoke(main, ["worker", "--ping"], env={
        "GRADER_INSTANCE_PATH": str(tmp_path / "instance"), "GRADER_QUEUE": "celery",
        "GRADER_BROKER_URL": DEAD_BROKER})
    assert result.exit_code == 1
    assert "cannot reach the broker" in result.output or "no worker answered" in result.output


def test_owner_names_this_host_so_a_redelivery_here_can_tell_a_dead_holder():
    assert claims.new_owner().startswith(socket.gethostname() + ":")


# ----------------------------------------------------------------------------- deliveries through Celery
def test_the_delivery_task_claims_sends_and_records_once_and_leaves_retries_to_the_sweeper(db, service_config,
                                                                                         httpserver):
    from test_outbox_support import make_world, receiver_at

    from grader.queue import tasks

    world = make_world(db, [httpserver.url_for("/hooks")])
    receiver, url = receiver_at(httpserver, world.secret, [(500, {}), (200, {})])
    delivery_id = world.graded(url)
    config = service_config.replace(delivery_timeout_seconds=2.0)
    assert tasks.send_one_delivery(db, config, "host:1:c", delivery_id) == "failed"
    row = world.delivery(delivery_id)
    assert row.status == "pending" and row.attempts == 1 and row.next_attempt_at > utcnow()
    assert tasks.send_one_delivery(db, config, "host:2:c", delivery_id) == "skipped"  # not due yet: no request
    with db.reading() as session:
        later = row.next_attempt_at + dt.timedelta(seconds=3)
        assert sweeper.find_due(session, 2, now=later, depths={}).deliveries == [delivery_id]
    with db.unit_of_work() as session:
        session.execute(update(type(row)).where(type(row).id == delivery_id).values(next_attempt_at=utcnow()))
    assert tasks.send_one_delivery(db, config, "host:2:c", delivery_id) == "delivered"
    assert tasks.send_one_delivery(db, config, "host:3:c", delivery_id) == "skipped"
    assert world.delivery(delivery_id).status == "delivered"
    assert receiver.ids() == [row.message_id] * 2 and all(seen.verified for seen in receiver.seen)


# ----------------------------------------------------------------------------- the entry points publish
def test_the_form_and_the_api_each_publish_one_interactive_message_after_commit(service_config, db, demo, bank,
                                                                                tmp_path):
    import io

    from celery_fixtures import redis_broker
    from service_fixtures import csrf_token, login, make_token

    from grader.web import create_app

    with redis_broker(tmp_path) as redis:
        config = service_config.replace(queue="celery", broker_url=redis.url)
        client = create_app(config, db).test_client()
        login(client, demo["student"])
        page = client.get("/exercises/none-grad-after-rebinding")
        response = client.post("/exercises/none-grad-after-rebinding/submit", data={
            "csrf_token": csrf_token(page.text), "file": (io.BytesIO(b"x = 1\n"), "fix.py")})
        assert response.status_code == 303
        token = make_token(db, demo["student"].email)
        response = client.post("/api/v1/submissions", headers={"Authorization": f"Bearer {token}"},
                               json={"exercise": "none-grad-after-rebinding", "source": "x = 1\n"})
        assert response.status_code == 202
        publisher = CeleryPublisher(config)
        try:
            assert publisher.queue_depths() == {"grading.interactive": 2, "grading.regrade": 0}
        finally:
            publisher.close()


def test_grader_regrade_publishes_its_runs_to_the_regrade_queue(tmp_path):
    from celery_fixtures import ROOT, redis_broker, write_instance

    from grader.cli import admin as _  # noqa: F401 - registers the command
    from grader.cli.base import main
    from grader.engine.bank import Bank
    from grader.store import migrate, seed, submissions
    from grader.store.models import User

    with redis_broker(tmp_path) as redis:
        config = write_instance(tmp_path / "instance", queue="celery", broker_url=redis.url)
        db = Database(config.sqlalchemy_url)
        try:
            migrate.upgrade(db.engine)
            with db.unit_of_work() as session:
                seed.seed_if_empty(session, Bank(ROOT))
                user = session.scalars(select(User).where(User.role == "student")).first()
                for _ in range(3):
                    run = submissions.submit(session, user, "none-grad-after-rebinding", "a.py", b"x = 1\n",
                                             1 << 20).run
                    run.status = "graded"
        finally:
            db.dispose()
        result = CliRunner().invoke(main, ["--bank", str(ROOT), "regrade", "--all", "--reason", "fixed"],
                                    env={"GRADER_INSTANCE_PATH": str(config.instance_path)})
        assert result.exit_code == 0, result.output
        assert "queued 3 regrade(s)" in result.output
        publisher = CeleryPublisher(config)
        try:
            assert publisher.queue_depths() == {"grading.interactive": 0, "grading.regrade": 3}
        finally:
            publisher.close()
