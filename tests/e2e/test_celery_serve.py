"""`grader serve` with GRADER_QUEUE=celery runs the web process only, says so, and a
submission over HTTP leaves its message in the broker for the `grader worker`s."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import requests
from celery_fixtures import ROOT, SLUG, celery_service, free_port, redis_broker, wait_for
from service_fixtures import make_token
from sqlalchemy import select

from grader.queue.publish import CeleryPublisher
from grader.store.models import GradingRun, User

pytestmark = pytest.mark.slow


def children_of(pid: int) -> list[str]:
    found = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        for child in (task / "children").read_text().split():
            found.append(Path(f"/proc/{child}/cmdline").read_bytes().replace(b"\0", b" ").decode())
    return found


def test_serve_in_celery_mode_runs_only_the_web_process_and_publishes_after_commit(tmp_path):
    with redis_broker(tmp_path) as redis, celery_service(tmp_path, redis.url) as celery:
        port = free_port()
        out = open(tmp_path / "serve.out", "wb")  # noqa: SIM115
        env = {k: v for k, v in os.environ.items() if not k.startswith("GRADER_")}
        serve = subprocess.Popen([sys.executable, "-m", "grader", "--bank", str(ROOT), "serve", "--port", str(port),
                                  "--instance", str(celery.config.instance_path)], cwd=ROOT, env=env, stdout=out,
                                 stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
        try:
            def up() -> bool:
                assert serve.poll() is None, (tmp_path / "serve.out").read_text()
                try:
                    return requests.get(f"http://127.0.0.1:{port}/api/v1/health", timeout=1).ok
                except requests.ConnectionError:
                    return False
            wait_for(up, 60, "grader serve to answer", interval=0.2)
            assert "queue celery: web only" in (tmp_path / "serve.out").read_text()
            kids = children_of(serve.pid)
            assert len(kids) == 1 and " _web " in kids[0], kids

            with celery.db.reading() as session:
                email = session.scalars(select(User.email).where(User.role == "student")).first()
            response = requests.post(f"http://127.0.0.1:{port}/api/v1/submissions", timeout=30,
                                     headers={"Authorization": f"Bearer {make_token(celery.db, email)}"},
                                     json={"exercise": SLUG, "source": "x = 1\n"})
            assert response.status_code == 202, response.text
            publisher = CeleryPublisher(celery.config)
            try:
                assert publisher.queue_depths()["grading.interactive"] == 1
            finally:
                publisher.close()
            with celery.db.reading() as session:
                assert session.scalars(select(GradingRun.status)).all() == ["queued"]  # no embedded worker
        finally:
            os.killpg(serve.pid, signal.SIGTERM)
            try:
                serve.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(serve.pid, signal.SIGKILL)
                serve.wait()
            out.close()
