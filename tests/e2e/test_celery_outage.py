"""A broker that goes away for 10 s during a burst loses nothing: the web keeps accepting
(the runs are committed; the failed publish is logged), the workers reconnect, and the
sweeper publishes again what the broker lost. Redis of the test's own, without persistence,
so stopping it really loses every message it held."""

from __future__ import annotations

import time

import pytest
from celery_fixtures import ROOT, SLUG, celery_service, redis_broker, wait_for
from service_fixtures import make_token
from sqlalchemy import select

from grader.queue.publish import CeleryPublisher
from grader.store.models import CheckRow, GradingRun, User

pytestmark = pytest.mark.slow
SOLUTION = (ROOT / "solutions" / f"{SLUG}.py").read_text()


def test_a_burst_survives_the_broker_stopping_for_ten_seconds(tmp_path):
    from grader.web import create_app

    with redis_broker(tmp_path) as redis, celery_service(tmp_path, redis.url) as celery:
        celery.start_worker("w1", concurrency=2)
        celery.wait_ready()
        app = create_app(celery.config, celery.db)
        client = app.test_client()
        with celery.db.reading() as session:
            email = session.scalars(select(User.email).where(User.role == "student")).first()
        headers = {"Authorization": f"Bearer {make_token(celery.db, email)}"}

        def submit() -> int:
            response = client.post("/api/v1/submissions", headers=headers,
                                   json={"exercise": SLUG, "filename": "fix.py", "source": SOLUTION})
            assert response.status_code == 202, response.text
            return response.get_json()["id"]

        submitted = [submit() for _ in range(6)]
        redis.stop()  # the messages still waiting in it are gone with it
        stopped = time.monotonic()
        submitted += [submit() for _ in range(4)]  # accepted while the broker is away
        time.sleep(max(0.0, 10 - (time.monotonic() - stopped)))
        redis.start()

        def graded() -> bool:
            with celery.db.reading() as session:
                statuses = list(session.scalars(select(GradingRun.status).where(
                    GradingRun.submission_id.in_(submitted))))
            return len(statuses) == 10 and all(status == "graded" for status in statuses)

        wait_for(graded, 120, "every submission of the burst to be graded", interval=0.25)
        with celery.db.reading() as session:
            runs = list(session.scalars(select(GradingRun).where(GradingRun.submission_id.in_(submitted))))
            assert len({run.submission_id for run in runs}) == 10 == len(runs)
            for run in runs:
                rows = session.scalars(select(CheckRow).where(CheckRow.run_id == run.id)).all()
                assert len(rows) == len(run.result["checks"])
        assert "sweeper published again" in celery.log_text()
        publisher = CeleryPublisher(celery.config)
        try:
            assert publisher.queue_depths() is not None  # the broker is back for the publishers too
        finally:
            publisher.close()
