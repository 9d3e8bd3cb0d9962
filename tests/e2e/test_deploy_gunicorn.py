"""The web app under gunicorn, as the deployment guide runs it: ``gunicorn
'grader.web.wsgi:create()'`` in its own process group, against an instance that
``grader db upgrade`` migrated beforehand (the web processes migrate nothing).

Each test starts a real gunicorn (2 worker processes) on a free loopback port from a
folder that is not the bank, so the bank must come from ``GRADER_BANK``, and kills the
whole process group afterwards, even when an assert fails.
"""

from __future__ import annotations

import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Iterator

import pytest
import requests

pytest.importorskip("gunicorn", reason="gunicorn is the `deploy` extra: pip install -e '.[deploy]'")

ROOT = Path(__file__).resolve().parents[2]
BOOT_SECONDS = 60.0


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def grader_env(instance: Path, **settings: str) -> dict[str, str]:
    """This process's environment without any GRADER_* of its own, plus ``settings``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("GRADER_")}
    env.update(GRADER_INSTANCE_PATH=str(instance), GRADER_BANK=str(ROOT), **settings)
    return env


def migrate(instance: Path) -> None:
    done = subprocess.run([sys.executable, "-m", "grader", "db", "upgrade"], env=grader_env(instance),
                          cwd=instance.parent, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr


class Gunicorn:
    """One gunicorn process group; its output kept in a file for the failure message."""

    def __init__(self, instance: Path, **settings: str):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.out_path = instance.parent / f"gunicorn-{self.port}.out"
        self.out = open(self.out_path, "wb")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "--bind", f"127.0.0.1:{self.port}", "--workers", "2",
             "--threads", "4", "--no-control-socket", "--graceful-timeout", "5", "grader.web.wsgi:create()"],
            cwd=instance.parent, env=grader_env(instance, **settings), stdout=self.out,
            stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)

    def output(self) -> str:
        return self.out_path.read_text(errors="replace")

    def wait_ready(self, path: str = "/login") -> requests.Response:
        deadline = time.monotonic() + BOOT_SECONDS
        while time.monotonic() < deadline:
            try:
                # the socket accepts before a worker has imported the app: wait for the answer
                return requests.get(self.url + path, timeout=10)
            except (requests.ConnectionError, requests.Timeout):
                pass
            assert self.process.poll() is None, f"gunicorn exited early:\n{self.output()}"
            time.sleep(0.1)
        raise AssertionError(f"gunicorn did not answer within {BOOT_SECONDS} s:\n{self.output()}")

    def wait_exit(self, timeout: float = BOOT_SECONDS) -> int:
        try:
            return self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"gunicorn still running after {timeout} s:\n{self.output()}") from None

    def close(self) -> None:
        """SIGKILL to the whole group: the master and every worker, at once (gunicorn's own
        shutdown takes seconds, and what it does is not what these tests claim)."""
        try:
            os.killpg(self.process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.process.wait(timeout=15)
        self.out.close()


@pytest.fixture
def instance(tmp_path: Path) -> Path:
    return tmp_path / "instance"


@pytest.fixture
def start(instance: Path) -> Iterator:
    started: list[Gunicorn] = []

    def run(**settings: str) -> Gunicorn:
        server = Gunicorn(instance, **settings)
        started.append(server)
        return server

    yield run
    for server in started:
        server.close()


@pytest.mark.slow
def test_gunicorn_serves_the_login_page_and_health_of_a_migrated_instance(instance: Path, start) -> None:
    began = time.monotonic()
    migrate(instance)
    server = start()
    login = server.wait_ready("/login")
    assert login.status_code == 200, server.output()
    assert "<form" in login.text
    assert requests.get(server.url + "/api/v1/health", timeout=5).status_code == 200
    healthz = requests.get(server.url + "/healthz", timeout=5)
    if healthz.status_code != 404:  # the operations endpoints may not be merged yet
        assert healthz.status_code == 200, healthz.text
    # two gunicorn processes answer one after another with the same instance secret key
    assert all(requests.get(server.url + "/login", timeout=5).status_code == 200 for _ in range(8))
    assert (instance / "secret_key").is_file()
    print(f"migrate + gunicorn boot + 10 requests: {time.monotonic() - began:.1f} s")


@pytest.mark.slow
def test_the_web_processes_migrate_nothing(instance: Path, start) -> None:
    server = start()
    assert server.wait_ready("/login").status_code == 200, server.output()
    database = instance / "grader.db"
    tables = []
    if database.exists():
        with sqlite3.connect(database) as connection:
            tables = [row[0] for row in connection.execute("SELECT name FROM sqlite_master WHERE type='table'")]
    assert "alembic_version" not in tables and "grading_runs" not in tables, tables


@pytest.mark.slow
def test_a_malformed_setting_stops_gunicorn_at_boot_with_the_reason(instance: Path, start) -> None:
    server = start(GRADER_LEASE_SECONDS="soon")
    code = server.wait_exit()
    output = server.output()
    assert code != 0
    assert "cannot start the web app" in output and "lease_seconds" in output, output
