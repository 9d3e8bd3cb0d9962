"""The operations endpoints and JSON logs of a real ``grader serve`` (supervisor, web,
worker and outbox processes), on SQLite, with one submission graded in between."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Iterator

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from grader.store import accounts
from grader.store.db import Database

ROOT = Path(__file__).resolve().parents[2]
SLUG = "none-grad-after-rebinding"
pytestmark = pytest.mark.slow


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_for(predicate, timeout: float, what: str):  # noqa: ANN001, ANN201
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture
def served(tmp_path: Path) -> Iterator[dict]:
    instance, port = tmp_path / "instance", free_port()
    env = {**os.environ, "GRADER_INSTANCE_PATH": str(instance), "GRADER_LOG_FORMAT": "json",
           "GRADER_POLL_SECONDS": "0.05"}
    out = open(tmp_path / "serve.out", "wb")
    process = subprocess.Popen([sys.executable, "-m", "grader", "--bank", str(ROOT), "serve", "--port", str(port),
                                "--workers", "1"], cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
                               stdin=subprocess.DEVNULL, start_new_session=True)
    try:
        url = f"http://127.0.0.1:{port}"

        def up() -> bool:
            assert process.poll() is None, (tmp_path / "serve.out").read_text(errors="replace")
            try:
                return requests.get(f"{url}/healthz", timeout=1).ok
            except requests.ConnectionError:
                return False

        wait_for(up, 60, "grader serve to answer /healthz")
        yield {"url": url, "process": process, "log": instance / "logs" / "grader.log",
               "db": f"sqlite:///{(instance / 'grader.db').resolve()}"}
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                pass
        try:
            os.killpg(process.pid, signal.SIGKILL)  # whatever is left of the group
        except ProcessLookupError:
            pass
        process.wait(timeout=10)
        out.close()


def test_a_served_instance_is_ready_counts_its_grades_and_logs_json_only(served):
    url = served["url"]
    assert requests.get(f"{url}/readyz", timeout=5).json() == {"status": "ok",
                                                              "checks": {"database": "ok", "broker": "not used"}}
    database = Database(served["db"])
    with database.unit_of_work() as session:
        token = accounts.create_token(session, accounts.user_by_email(session, "student@example.com"))
    database.dispose()
    answer = (ROOT / "solutions" / f"{SLUG}.py").read_bytes()
    response = requests.post(f"{url}/api/v1/submissions", headers={"Authorization": f"Bearer {token}"},
                             data={"exercise": SLUG}, files={"file": ("fix.py", answer)}, timeout=30)
    assert response.status_code == 202, response.text
    submission_id = response.json()["id"]

    def graded() -> dict | None:
        text = requests.get(f"{url}/metrics", timeout=5).text
        families = {f.name: f for f in text_string_to_metric_families(text)}
        runs = {s.labels["status"]: s.value for s in families["grader_runs"].samples}
        return families if runs.get("graded") == 1 else None

    families = wait_for(graded, 90, "the submission to be graded")
    counts = [s.value for s in families["grader_grading_seconds"].samples
              if s.name == "grader_grading_seconds_count" and s.labels["exercise"] == SLUG]
    assert counts == [1]
    served["process"].send_signal(signal.SIGTERM)
    served["process"].wait(timeout=30)
    lines = served["log"].read_text(encoding="utf-8").splitlines()
    records = [json.loads(line) for line in lines]  # every line of every process is JSON
    assert {r["role"] for r in records} >= {"serve", "worker"}
    grading = [r for r in records if r["message"].startswith(("grading run", "run "))]
    assert grading and all(r["submission_id"] == submission_id for r in grading), grading
