"""``grader bench --service`` starts its own ``grader serve`` and ``grader worker``: if the
bench is killed, they must go with it, or a worker left behind takes the next bench's
messages from the broker."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = """
import sys, uuid
from pathlib import Path
import requests
from grader.engine.bank import Bank
from grader.queue.bench import _Server
env = {"GRADER_QUEUE": "celery", "GRADER_BROKER_URL": sys.argv[2], "GRADER_DATABASE_URL": sys.argv[3]}
server = _Server(Bank(Path(sys.argv[1])), 0, False, env=env, worker=["-c", "1", "--name", f"orphan-{uuid.uuid4().hex[:6]}"])
server.wait_up(requests.Session())
print(server.process.pid, server.worker.pid, flush=True)
input()  # until killed
"""


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state not in ("Z", "X")


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)  # the Celery worker's database
def test_a_killed_bench_takes_its_server_and_worker_with_it(database_url):  # noqa: ANN001
    pids: list[int] = []
    bench = subprocess.Popen([sys.executable, "-c", SCRIPT, str(ROOT), "redis://127.0.0.1:6379/12", database_url],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=ROOT)
    try:
        pids = [int(pid) for pid in bench.stdout.readline().split()]  # grader serve, grader worker
        assert len(pids) == 2 and all(alive(pid) for pid in pids)
        bench.send_signal(signal.SIGKILL)
        bench.wait(timeout=10)
        deadline = time.monotonic() + 60
        while any(alive(pid) for pid in pids) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not any(alive(pid) for pid in pids)
    finally:
        for pid in pids:
            if alive(pid):
                os.killpg(pid, signal.SIGKILL)
        if bench.poll() is None:
            bench.kill()
