"""The deployment guide's topology on this machine, without containers: gunicorn
(``grader.web.wsgi:create()``, 2 processes) and one ``grader worker`` in separate process
groups, sharing a PostgreSQL schema, a Redis broker of the test's own and one instance
folder, as compose.yaml's ``web`` and ``worker`` do. A submission posted to gunicorn is
graded by the worker and read back through gunicorn; ``/readyz`` sees both back ends.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
import requests
from celery_fixtures import ROOT, SLUG, celery_service, redis_broker, wait_for
from service_fixtures import make_token
from sqlalchemy import select
from test_deploy_gunicorn import Gunicorn

from grader.store.models import User

pytestmark = pytest.mark.slow
pytest.importorskip("gunicorn", reason="gunicorn is the `deploy` extra: pip install -e '.[deploy]'")
SOLUTION = (ROOT / "solutions" / f"{SLUG}.py").read_text()


def test_a_submission_to_gunicorn_is_graded_by_a_celery_worker_and_read_back(tmp_path: Path) -> None:
    began = time.monotonic()
    with redis_broker(tmp_path) as redis, celery_service(tmp_path, redis.url) as celery:
        celery.start_worker("deploy-w1")
        web = Gunicorn(celery.config.instance_path)
        try:
            assert web.wait_ready("/login").status_code == 200, web.output()
            ready = requests.get(web.url + "/readyz", timeout=10)
            if ready.status_code != 404:  # the operations endpoints may not be merged yet
                assert ready.status_code == 200, ready.text
            celery.wait_ready()

            with celery.db.reading() as session:
                email = session.scalars(select(User.email).where(User.role == "student")).first()
            headers = {"Authorization": f"Bearer {make_token(celery.db, email)}"}
            posted = requests.post(web.url + "/api/v1/submissions", json={"exercise": SLUG, "source": SOLUTION},
                                   headers=headers, timeout=30)
            assert posted.status_code == 202, posted.text
            status_url = posted.headers["Location"]

            def graded() -> dict | None:
                body = requests.get(status_url if status_url.startswith("http") else web.url + status_url,
                                    headers=headers, timeout=10).json()
                assert body["status"] != "failed", body
                return body if body["status"] == "graded" else None

            body = wait_for(graded, 120, "the submission to be graded", interval=0.3)
            assert body["score"] == body["max_score"] > 0, body
            scraped = requests.get(web.url + "/metrics", timeout=10)  # from loopback: no token needed
            if scraped.status_code != 404:
                assert scraped.status_code == 200, scraped.text
                assert f'grader_grading_seconds_count{{exercise="{SLUG}"}} 1.0' in scraped.text, scraped.text
        finally:
            web.close()
    print(f"broker + schema + worker + gunicorn + one graded submission: {time.monotonic() - began:.1f} s")
