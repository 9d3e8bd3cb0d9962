"""GRADER_QUEUE=celery end to end: real `grader worker` processes, PostgreSQL, and Redis or
RabbitMQ. One service per broker (two workers, one pool process each) serves the whole
module; each test looks only at the runs it made."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Iterator

import pytest
from celery_fixtures import BROKERS, ROOT, SLUG, CeleryService, broker_for, celery_service, wait_for
from service_fixtures import make_token
from sqlalchemy import func, select, update

from grader.queue.publish import CeleryPublisher
from grader.store import submissions
from grader.store.models import PRIORITY_REGRADE, CheckRow, GradingRun, User

pytestmark = pytest.mark.slow
SOLUTION = (ROOT / "solutions" / f"{SLUG}.py").read_bytes()


@pytest.fixture(scope="module", params=BROKERS)
def celery(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[CeleryService]:
    workdir = tmp_path_factory.mktemp(f"celery-{request.param}")
    with broker_for(request.param, workdir) as (url, _server):
        with celery_service(workdir, url) as service:
            service.start_worker("w1")
            service.start_worker("w2")
            service.wait_ready()
            yield service


@pytest.fixture
def publisher(celery: CeleryService) -> Iterator[CeleryPublisher]:
    made = CeleryPublisher(celery.config)
    yield made
    made.close()


def queue_runs(celery: CeleryService, count: int, regrade: bool = False) -> list[int]:
    """``count`` submissions stored and committed (not yet published)."""
    with celery.db.unit_of_work() as session:
        user = session.scalars(select(User).where(User.role == "student")).first()
        ids = [submissions.submit(session, user, SLUG, "fix.py", SOLUTION, 1 << 20, origin="api").run.id
               for _ in range(count)]
        if regrade:
            session.execute(update(GradingRun).where(GradingRun.id.in_(ids))
                            .values(priority=PRIORITY_REGRADE, reason="regrade"))
    return ids


def runs(celery: CeleryService, ids: list[int]) -> list[GradingRun]:
    with celery.db.reading() as session:
        return list(session.scalars(select(GradingRun).where(GradingRun.id.in_(ids)).order_by(GradingRun.id)))


def all_graded(celery: CeleryService, ids: list[int], timeout: float = 90.0) -> list[GradingRun]:
    def done() -> list[GradingRun] | None:
        found = runs(celery, ids)
        return found if all(r.status == "graded" for r in found) else None
    return wait_for(done, timeout, f"{len(ids)} run(s) to be graded", interval=0.2)


def assert_graded_once(celery: CeleryService, graded: list[GradingRun]) -> None:
    with celery.db.reading() as session:
        for run in graded:
            rows = session.scalar(select(func.count()).select_from(CheckRow).where(CheckRow.run_id == run.id))
            assert rows == len(run.result["checks"]) > 0, f"run {run.id}: {rows} check rows"
            assert run.score == run.max_score  # the reference solution
        per_submission = session.execute(select(GradingRun.submission_id, func.count()).where(
            GradingRun.id.in_([r.id for r in graded])).group_by(GradingRun.submission_id)).all()
        assert all(count == 1 for _, count in per_submission)


def test_a_message_published_twice_by_hand_grades_its_run_once(celery, publisher):
    (run_id,) = queue_runs(celery, 1)
    assert publisher.publish_runs([run_id]) == 1
    assert publisher.publish_runs([run_id]) == 1
    (run,) = all_graded(celery, [run_id])
    assert run.attempts == 1
    assert_graded_once(celery, [run])
    wait_for(lambda: publisher.queue_depths() == {"grading.interactive": 0, "grading.regrade": 0}, 30,
             "the duplicate to be consumed")
    time.sleep(0.5)  # the duplicate is acknowledged after the task ran: it must have changed nothing
    (again,) = runs(celery, [run_id])
    assert (again.status, again.attempts, again.finished_at) == ("graded", 1, run.finished_at)


def test_twelve_api_submissions_with_two_workers_are_each_graded_exactly_once(celery):
    from grader.web import create_app

    app = create_app(celery.config, celery.db)
    with celery.db.reading() as session:
        email = session.scalars(select(User.email).where(User.role == "student")).first()
    token = make_token(celery.db, email)
    client = app.test_client()
    ids = []
    for _ in range(12):
        response = client.post("/api/v1/submissions", headers={"Authorization": f"Bearer {token}"},
                               json={"exercise": SLUG, "filename": "fix.py", "source": SOLUTION.decode()})
        assert response.status_code == 202, response.text
        ids.append(response.get_json()["id"])
    with celery.db.reading() as session:
        run_ids = list(session.scalars(select(GradingRun.id).where(GradingRun.submission_id.in_(ids))))
    assert len(run_ids) == 12
    graded = all_graded(celery, run_ids)
    assert all(run.attempts == 1 for run in graded)
    assert_graded_once(celery, graded)
    assert len({run.engine_version for run in graded}) == 1


def test_an_interactive_submission_is_graded_before_a_regrade_backlog_drains(celery, publisher):
    backlog = queue_runs(celery, 14, regrade=True)
    assert publisher.publish_runs(backlog, regrade=True) == 14
    wait_for(lambda: any(r.status == "graded" for r in runs(celery, backlog)), 60, "the backlog to start")
    (student,) = queue_runs(celery, 1)
    publisher.publish_runs([student])
    (mine,) = all_graded(celery, [student])
    regrades = all_graded(celery, backlog)
    later = [r for r in regrades if r.finished_at > mine.finished_at]
    assert len(later) >= 6, f"only {len(later)} of 14 regrades finished after the interactive run"


def test_a_pool_process_killed_mid_task_has_its_run_redelivered_and_graded_once(celery, publisher):
    (run_id,) = queue_runs(celery, 1)
    publisher.publish_runs([run_id])
    running = wait_for(lambda: next((r for r in runs(celery, [run_id]) if r.status == "running"), None), 60,
                       "the run to be claimed", interval=0.02)
    pid = int(running.lease_owner.split(":")[1])
    os.kill(pid, signal.SIGKILL)
    (run,) = all_graded(celery, [run_id], timeout=120)
    assert run.attempts == 2  # the killed attempt, then the redelivered one
    assert run.lease_owner is None
    assert_graded_once(celery, [run])


def test_a_grade_goes_back_to_its_platform_through_the_deliveries_queue(celery, publisher, httpserver):
    import base64

    from grader.store.models_lms import Delivery, ReplyTarget, TargetKind, WebhookSecret, WebhookSource

    httpserver.expect_request("/hooks/grades", method="POST").respond_with_data("ok")
    url = httpserver.url_for("/hooks/grades")
    (run_id,) = queue_runs(celery, 1)
    with celery.db.unit_of_work() as session:
        source = WebhookSource(name=f"lms-{run_id}", callback_allow=[httpserver.url_for("/hooks")])
        session.add(source)
        session.flush()
        session.add(WebhookSecret(source_id=source.id, secret="whsec_" + base64.b64encode(os.urandom(24)).decode()))
        submission_id = session.get(GradingRun, run_id).submission_id
        session.add(ReplyTarget(submission_id=submission_id, kind=TargetKind.CALLBACK.value, url=url,
                                source_id=source.id, subject="lms-user-1"))
    publisher.publish_runs([run_id])
    all_graded(celery, [run_id])

    def delivered() -> Delivery | None:
        with celery.db.reading() as session:
            row = session.scalars(select(Delivery).where(Delivery.run_id == run_id)).first()
        return row if row is not None and row.status == "delivered" else None
    row = wait_for(delivered, 30, "the grade to be delivered")
    assert row.attempts == 1
    (request, _response), = httpserver.log
    assert request.headers["webhook-id"] == row.message_id


def test_a_run_whose_grading_raises_is_tried_max_attempts_times_then_fails(celery, publisher):
    from grader.store.models import Exercise

    (run_id,) = queue_runs(celery, 1)
    with celery.db.unit_of_work() as session:  # its exercise leaves the bank: grading raises
        run = session.get(GradingRun, run_id)
        ghost = Exercise(slug=f"ghost-{run_id}", title="Ghost", summary="", points=1.0, content_hash="0" * 64)
        session.add(ghost)
        session.flush()
        run.submission.exercise_id = ghost.id
    publisher.publish_runs([run_id])

    def failed() -> GradingRun | None:
        (found,) = runs(celery, [run_id])
        return found if found.status == "failed" else None
    run = wait_for(failed, 60, "the run to fail")
    assert run.attempts == celery.config.max_attempts
    assert "Grading failed 3 times" in run.error and "not in the bank" in run.error


def test_grader_worker_ping_names_the_workers_that_answer(celery):
    result = subprocess.run([sys.executable, "-m", "grader", "worker", "--ping", "--instance",
                             str(celery.config.instance_path)], capture_output=True, text=True, timeout=60,
                            cwd=Path(ROOT), env={k: v for k, v in os.environ.items() if not k.startswith("GRADER_")})
    assert result.returncode == 0, result.stderr
    assert "w1@" in result.stdout and "w2@" in result.stdout
