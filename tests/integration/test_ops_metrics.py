"""/metrics: the numbers come from the database at scrape time, parse as Prometheus text,
and are served to loopback (or to the bearer of metrics_token) only."""

from __future__ import annotations

import datetime as dt
import hashlib
import sys
import time

import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import insert

from grader.ops.metrics import GRADING_BUCKETS
from grader.store.db import Database
from grader.store.models import (CheckRow, Course, CourseExercise, Exercise, GradingRun, Submission, User,
                                 utcnow)
from grader.store.models_lms import Delivery, ReplyTarget
from grader.web import create_app

NOW = utcnow()  # set again for each test (below): ages are measured from it at scrape time


@pytest.fixture(autouse=True)
def fresh_now(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys.modules[__name__], "NOW", utcnow())


def ago(seconds: float) -> dt.datetime:
    return NOW - dt.timedelta(seconds=seconds)


@pytest.fixture
def made(db: Database) -> dict:
    """Two exercises; graded runs with known latencies and verdicts; queued, running and
    failed runs; deliveries in each state."""
    with db.unit_of_work() as session:
        session.add(Course(id="c", title="C"))
        a = Exercise(slug="ex-a", title="A", points=2.0, content_hash="0" * 64)
        b = Exercise(slug="ex-b", title="B", points=2.0, content_hash="1" * 64)
        user = User(email="s@example.com", display_name="S")
        session.add_all([a, b, user])
        session.flush()
        session.add_all([CourseExercise(course_id="c", exercise_id=a.id), CourseExercise(course_id="c", exercise_id=b.id)])
        subs = {}
        for exercise in (a, b):
            subs[exercise.slug] = Submission(user_id=user.id, course_id="c", exercise_id=exercise.id, filename="a.py",
                                             format="py", content=b"x", size=1, sha256=hashlib.sha256(b"x").hexdigest())
        session.add_all(subs.values())
        session.flush()

        def run(slug: str, status: str, **fields) -> GradingRun:  # noqa: ANN003
            row = GradingRun(submission_id=subs[slug].id, status=status, **fields)
            session.add(row)
            session.flush()
            return row

        # ex-a: grading 0.07 s, 0.3 s, 4 s; queued 0.8 s, 20 s, 200 s before the grade (no value on a
        # bucket's bound: SQLite's julianday() arithmetic is exact to ~10 µs only)
        graded_a = [run("ex-a", "graded", grading_seconds=g, queued_at=ago(w), finished_at=NOW, score=1, max_score=2)
                    for g, w in ((0.07, 0.8), (0.3, 20.0), (4.0, 200.0))]
        graded_b = [run("ex-b", "graded", grading_seconds=0.2, queued_at=ago(3.0), finished_at=NOW, score=2, max_score=2)]
        for row, verdicts in zip(graded_a, (("passed", "passed"), ("passed", "timeout"), ("failed", "crashed"))):
            for position, (name, verdict) in enumerate(zip(("forward", "backward"), verdicts)):
                session.add(CheckRow(run_id=row.id, position=position, name=name, verdict=verdict, points=1, max_points=1))
        session.add(CheckRow(run_id=graded_b[0].id, position=0, name="forward", verdict="memory", points=0, max_points=1))
        run("ex-a", "queued", priority=0, reason="submission", queued_at=ago(90))
        run("ex-a", "queued", priority=0, reason="submission")
        run("ex-b", "queued", priority=10, reason="regrade")
        run("ex-b", "running", started_at=NOW)
        run("ex-b", "failed", finished_at=NOW, error="gave up")
        target = ReplyTarget(submission_id=subs["ex-a"].id, kind="callback", url="https://lms.example/cb")
        session.add(target)
        session.flush()
        for n, (status, attempts) in enumerate((("delivered", 1), ("delivered", 3), ("failed", 5), ("pending", 2))):
            session.add(Delivery(run_id=graded_a[n % 3].id if n < 3 else graded_b[0].id, target_id=target.id,
                                 message_id=f"msg_{n}", status=status, attempts=attempts))
    return {"a": a.slug}


def scrape(client, **kwargs) -> dict:  # noqa: ANN001
    response = client.get("/metrics", **kwargs)
    assert response.status_code == 200, response.text
    assert response.headers["Content-Type"].startswith("text/plain; version=0.0.4")
    return {family.name: family for family in text_string_to_metric_families(response.text)}


def value(families: dict, family: str, sample: str | None = None, **labels: str) -> float:
    found = [s.value for s in families[family].samples
             if s.name == (sample or family) and all(s.labels.get(k) == v for k, v in labels.items())]
    assert len(found) == 1, (family, sample, labels, families[family].samples)
    return found[0]


def test_metrics_report_queue_runs_and_deliveries_from_the_database(client, made):
    families = scrape(client)
    assert value(families, "grader_queue_length", priority="0", reason="submission") == 2
    assert value(families, "grader_queue_length", priority="10", reason="regrade") == 1
    assert 85 <= value(families, "grader_queue_oldest_age_seconds") < 600
    runs = {s.labels["status"]: s.value for s in families["grader_runs"].samples}
    assert runs == {"queued": 3, "running": 1, "graded": 4, "failed": 1}
    assert value(families, "grader_deliveries", kind="callback", status="delivered") == 2
    assert value(families, "grader_deliveries", kind="callback", status="pending") == 1
    assert value(families, "grader_deliveries", kind="lti_ags", status="delivered") == 0
    assert value(families, "grader_delivery_failures", kind="callback") == 1
    assert value(families, "grader_delivery_attempts", "grader_delivery_attempts_total", kind="callback") == 11


def test_latency_histograms_are_cumulative_and_end_at_the_run_count(client, made):
    families = scrape(client)
    for name in ("grader_grading_seconds", "grader_submit_to_score_seconds"):
        for exercise, count in (("ex-a", 3), ("ex-b", 1)):
            buckets = [(float(s.labels["le"]), s.value) for s in families[name].samples
                       if s.name == f"{name}_bucket" and s.labels["exercise"] == exercise]
            counts = [n for _, n in buckets]
            assert counts == sorted(counts), (name, exercise, buckets)  # monotone
            assert buckets[-1] == (float("inf"), count)
            assert value(families, name, f"{name}_count", exercise=exercise) == count
    grading = {float(s.labels["le"]): s.value for s in families["grader_grading_seconds"].samples
               if s.name == "grader_grading_seconds_bucket" and s.labels["exercise"] == "ex-a"}
    assert set(GRADING_BUCKETS) <= set(grading)
    assert (grading[0.05], grading[0.1], grading[0.25], grading[0.5], grading[2.5], grading[5.0]) == (0, 1, 1, 2, 2, 3)
    assert value(families, "grader_grading_seconds", "grader_grading_seconds_sum", exercise="ex-a") == pytest.approx(4.37)
    wait = {float(s.labels["le"]): s.value for s in families["grader_submit_to_score_seconds"].samples
            if s.name == "grader_submit_to_score_seconds_bucket" and s.labels["exercise"] == "ex-a"}
    assert (wait[0.5], wait[1.0], wait[10.0], wait[30.0], wait[120.0], wait[300.0]) == (0, 1, 1, 2, 2, 3)
    assert value(families, "grader_submit_to_score_seconds", "grader_submit_to_score_seconds_sum",
                 exercise="ex-a") == pytest.approx(220.8, abs=0.01)


def test_verdict_and_sandbox_failure_counters_count_check_rows(client, made):
    families = scrape(client)
    verdicts = {(s.labels["exercise"], s.labels["check"], s.labels["verdict"]): s.value
                for s in families["grader_check_verdicts"].samples if s.name == "grader_check_verdicts_total"}
    assert verdicts == {("ex-a", "forward", "passed"): 2, ("ex-a", "forward", "failed"): 1,
                        ("ex-a", "backward", "passed"): 1, ("ex-a", "backward", "timeout"): 1,
                        ("ex-a", "backward", "crashed"): 1, ("ex-b", "forward", "memory"): 1}
    failures = {(s.labels["exercise"], s.labels["verdict"]): s.value
                for s in families["grader_sandbox_failures"].samples if s.name == "grader_sandbox_failures_total"}
    assert failures == {("ex-a", "timeout"): 1, ("ex-a", "crashed"): 1, ("ex-b", "memory"): 1}


def test_metrics_are_refused_to_a_remote_address_without_a_token(client):
    response = client.get("/metrics", environ_base={"REMOTE_ADDR": "203.0.113.7"})
    assert response.status_code == 403 and "loopback" in response.text
    proxied = client.get("/metrics", headers={"X-Forwarded-For": "203.0.113.7"})  # a local proxy passing it on
    assert proxied.status_code == 403
    assert client.get("/metrics", environ_base={"REMOTE_ADDR": "::1"}).status_code == 200


def test_metrics_need_the_bearer_token_once_one_is_configured(service_config, db, demo, bank):
    app = create_app(service_config.replace(metrics_token="s3cret-token"), db, bank)
    client = app.test_client()
    remote = {"REMOTE_ADDR": "203.0.113.7"}
    assert client.get("/metrics").status_code == 401  # from loopback too
    wrong = client.get("/metrics", environ_base=remote, headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 401 and wrong.headers["WWW-Authenticate"].startswith("Bearer")
    assert "grader_runs" in scrape(client, environ_base=remote, headers={"Authorization": "Bearer s3cret-token"})


def test_metrics_answer_503_not_a_stack_trace_when_the_database_is_gone(tmp_path, bank):
    from grader.config import Config

    config = Config(instance_path=tmp_path / "instance", database_url=f"sqlite:///{tmp_path / 'none.db'}",
                    testing=True)
    response = create_app(config, bank=bank).test_client().get("/metrics")  # never migrated: no tables
    assert response.status_code == 503 and "Traceback" not in response.text


def test_a_scrape_of_2000_runs_stays_cheap(client, made, db):
    with db.unit_of_work() as session:
        submission_id = session.query(Submission.id).first()[0]
        session.execute(insert(GradingRun), [
            {"submission_id": submission_id, "status": "graded", "grading_seconds": (n % 50) / 10,
             "queued_at": ago(n % 300 + 1), "finished_at": NOW, "priority": 0, "reason": "submission", "attempts": 1}
            for n in range(2000)])
        first = session.query(GradingRun.id).order_by(GradingRun.id.desc()).limit(2000).all()
        session.execute(insert(CheckRow), [
            {"run_id": run_id, "position": p, "name": f"check-{p}", "verdict": ("passed", "failed", "timeout")[run_id % 3],
             "points": 1.0, "max_points": 1.0, "visible": True} for (run_id,) in first for p in range(5)])
    scrape(client)  # warm: the first request imports and compiles
    started = time.perf_counter()
    families = scrape(client)
    took = time.perf_counter() - started
    assert value(families, "grader_runs", status="graded") == 2004
    assert took < 0.5, f"a scrape took {took:.3f} s"
    print(f"scrape of 2004 graded runs, 10,007 check rows: {took * 1000:.0f} ms")
