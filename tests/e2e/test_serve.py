"""``grader serve`` as a user runs it: a real supervisor, web process and worker processes.

The crash test kills the whole process group with SIGKILL in the middle of a burst, starts
the server again, and checks that every submission ends graded exactly once.
"""

from __future__ import annotations

import concurrent.futures
import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
from sqlalchemy import func, select

from grader.store import accounts
from grader.store.db import Database
from grader.store.models import GradingRun, Submission

ROOT = Path(__file__).resolve().parents[2]
SLUG = "none-grad-after-rebinding"
CORRECT = (ROOT / "solutions" / f"{SLUG}.py").read_bytes()
BUGGY = (ROOT / "exercises" / SLUG / "stub.py").read_bytes()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Served:
    """One ``grader serve`` process group, its output kept in a file."""

    def __init__(self, instance: Path, database_url: str, workers: int, port: int | None = None):
        self.instance, self.port = instance, port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {**os.environ, "GRADER_INSTANCE_PATH": str(instance), "GRADER_SUBMIT_RATE": "10000 per minute",
                    "GRADER_POLL_SECONDS": "0.05", "GRADER_LEASE_SECONDS": "10"}
        if not database_url.startswith("sqlite"):
            self.env["GRADER_DATABASE_URL"] = database_url
        self.database_url = database_url if not database_url.startswith("sqlite") else \
            f"sqlite:///{(instance / 'grader.db').resolve()}"
        self.workers = workers
        self.out_path = instance.parent / f"serve-{time.monotonic_ns()}.out"

    def start(self, timeout: float = 60.0) -> "Served":
        self.out = open(self.out_path, "wb")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "grader", "--bank", str(ROOT), "serve", "--port", str(self.port),
             "--workers", str(self.workers)], cwd=ROOT, env=self.env, stdout=self.out,
            stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if requests.get(f"{self.url}/api/v1/health", timeout=1).ok:
                    return self
            except requests.ConnectionError:
                pass
            assert self.process.poll() is None, self.output()
            time.sleep(0.2)
        raise AssertionError(f"grader serve did not come up:\n{self.output()}")

    def output(self) -> str:
        return self.out_path.read_text(errors="replace")

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30.0) -> int:
        self.process.send_signal(sig)
        code = self.process.wait(timeout=timeout)
        self.out.close()
        return code

    def kill_everything(self) -> None:
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)
        self.out.close()

    def token(self, email: str = "student@example.com") -> str:
        database = Database(self.database_url)
        with database.unit_of_work() as session:
            token = accounts.create_token(session, accounts.user_by_email(session, email))
        database.dispose()
        return token


def group_members(pgid: int) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                if os.getpgid(int(entry)) == pgid:
                    found.append(int(entry))
            except ProcessLookupError:
                continue
    return found


def submit(url: str, token: str, data: bytes, name: str = "fix.py", exercise: str = SLUG) -> int:
    response = requests.post(f"{url}/api/v1/submissions", headers={"Authorization": f"Bearer {token}"},
                             data={"exercise": exercise}, files={"file": (name, data)}, timeout=30)
    assert response.status_code == 202, response.text
    return response.json()["id"]


def run_counts(database_url: str) -> dict[int, list[str]]:
    database = Database(database_url)
    with database.reading() as session:
        runs: dict[int, list[str]] = {sid: [] for sid in session.scalars(select(Submission.id))}
        for run in session.scalars(select(GradingRun).order_by(GradingRun.id)):
            runs[run.submission_id].append(run.status)
    database.dispose()
    return runs


def wait_graded(database_url: str, count: int, timeout: float) -> None:
    database = Database(database_url)
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            with database.reading() as session:
                graded = session.scalar(select(func.count()).select_from(GradingRun)
                                        .where(GradingRun.status == "graded"))
            if graded >= count:
                return
            time.sleep(0.2)
    finally:
        database.dispose()
    raise AssertionError(f"fewer than {count} runs graded after {timeout} s")


@pytest.fixture
def served_instance(tmp_path: Path, database_url: str):  # noqa: ANN201
    return tmp_path / "instance", database_url


def test_first_start_seeds_the_demo_course_and_prints_credentials_once(served_instance):
    instance, database_url = served_instance
    served = Served(instance, database_url, workers=1).start()
    try:
        first = served.output()
        passwords = re.findall(r"(student|instructor)\s+(\S+@example\.com)\s+password: (\S+)", first)
        assert {role for role, _, _ in passwords} == {"student", "instructor"}
        page = requests.get(f"{served.url}/login", timeout=5)
        assert page.status_code == 200 and "Sign in" in page.text
    finally:
        assert served.stop() == 0
    again = Served(instance, database_url, workers=1, port=served.port).start()
    try:
        assert "password:" not in again.output()
    finally:
        again.stop()
    log = (instance / "logs" / "grader.log").read_text()
    assert all(password not in log for _, _, password in passwords)
    assert (instance / "secret_key").stat().st_mode & 0o077 == 0


def test_sigterm_stops_the_web_process_and_every_worker(served_instance):
    instance, database_url = served_instance
    if not database_url.startswith("sqlite"):
        pytest.skip("process supervision does not depend on the database")
    served = Served(instance, database_url, workers=2).start()
    members = group_members(served.process.pid)
    assert len(members) >= 4  # supervisor, web, two workers (and their fork servers)
    assert served.stop(signal.SIGTERM) == 0
    deadline = time.monotonic() + 15
    while group_members(served.process.pid) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert group_members(served.process.pid) == []


def test_killing_the_supervisor_alone_takes_its_children_down(served_instance):
    instance, database_url = served_instance
    if not database_url.startswith("sqlite"):
        pytest.skip("process supervision does not depend on the database")
    served = Served(instance, database_url, workers=1).start()
    served.process.kill()  # SIGKILL to the supervisor only: children get PR_SET_PDEATHSIG
    served.process.wait()
    deadline = time.monotonic() + 20
    while group_members(served.process.pid) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert group_members(served.process.pid) == []
    served.out.close()


@pytest.mark.slow
def test_kill_9_mid_burst_then_restart_grades_every_submission_exactly_once(served_instance):
    instance, database_url = served_instance
    served = Served(instance, database_url, workers=2).start()
    token = served.token()
    ids = [submit(served.url, token, CORRECT if n % 2 else BUGGY) for n in range(40)]
    wait_graded(served.database_url, 6, timeout=120)
    served.kill_everything()
    before = run_counts(served.database_url)
    assert sorted(before) == sorted(ids)
    assert any("running" in statuses or "queued" in statuses for statuses in before.values())

    again = Served(instance, database_url, workers=2, port=served.port).start()
    try:
        wait_graded(again.database_url, len(ids), timeout=240)
        time.sleep(1.0)  # nothing else must turn up
        after = run_counts(again.database_url)
    finally:
        again.stop()
    assert sorted(after) == sorted(ids)
    assert all(statuses == ["graded"] for statuses in after.values()), after
    scores = _scores(again.database_url)
    assert {scores[i] for i in ids[1::2]} == {10.0} and max(scores[i] for i in ids[0::2]) < 10.0


@pytest.mark.slow
def test_200_concurrent_api_submissions_are_all_stored_and_graded_once(served_instance):
    instance, database_url = served_instance
    served = Served(instance, database_url, workers=2).start()
    try:
        token = served.token()
        # The bank's quickest exercise: the test is about the service, not about grading time.
        quick = "manual-sgd-step"
        files = [(ROOT / "solutions" / f"{quick}.py").read_bytes(), (ROOT / "exercises" / quick / "stub.py").read_bytes()]
        with concurrent.futures.ThreadPoolExecutor(max_workers=20) as pool:
            ids = list(pool.map(lambda n: submit(served.url, token, files[n % 2], exercise=quick), range(200)))
        assert len(set(ids)) == 200
        wait_graded(served.database_url, 200, timeout=600)
        after = run_counts(served.database_url)
    finally:
        served.stop()
    assert len(after) == 200 and all(statuses == ["graded"] for statuses in after.values())


def _scores(database_url: str) -> dict[int, float]:
    database = Database(database_url)
    with database.reading() as session:
        out = {run.submission_id: run.score for run in session.scalars(
            select(GradingRun).where(GradingRun.status == "graded"))}
    database.dispose()
    return out
