"""Real Celery workers for the tests: a PostgreSQL schema, a broker of the test's own, and
`grader worker` subprocesses.

Isolation: Redis tests get a redis-server of their own on a free port (so a test may stop and
restart it); RabbitMQ tests get a vhost of their own (``rabbitmqctl add_vhost``), deleted at
teardown with everything in it. Workers run in their own process group and are killed with
it, pool processes and fork servers included, even when the test fails.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator

import pytest

from grader.config import Config
from grader.store.db import Database

ROOT = Path(__file__).resolve().parents[1]
PG_URL = os.environ.get("GRADER_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
RABBIT = os.environ.get("GRADER_TEST_AMQP", "amqp://guest:guest@127.0.0.1:5672")
SLUG = "none-grad-after-rebinding"
BROKERS = ["redis", "rabbitmq"]


def wait_for(predicate: Callable[[], object], timeout: float, what: str, interval: float = 0.1) -> object:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class RedisServer:
    """A redis-server of this test's own (no persistence), which a test may stop and start."""

    def __init__(self, workdir: Path):
        self.port, self.workdir = free_port(), workdir
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.process = subprocess.Popen(["redis-server", "--port", str(self.port), "--bind", "127.0.0.1",
                                         "--save", "", "--appendonly", "no", "--dir", str(self.workdir)],
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        wait_for(self._answers, 10, "redis-server to answer")

    def _answers(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as conn:
                conn.sendall(b"PING\r\n")
                return conn.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)
        self.process = None


@contextlib.contextmanager
def redis_broker(workdir: Path) -> Iterator[RedisServer]:
    server = RedisServer(workdir)
    server.start()
    try:
        yield server
    finally:
        server.stop()


def _rabbitmqctl(*args: str) -> None:
    subprocess.run(["rabbitmqctl", *args], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                   timeout=60)


@contextlib.contextmanager
def rabbit_vhost() -> Iterator[str]:
    vhost = f"grader-test-{uuid.uuid4().hex[:10]}"
    _rabbitmqctl("add_vhost", vhost)
    try:
        _rabbitmqctl("set_permissions", "-p", vhost, "guest", ".*", ".*", ".*")
        yield f"{RABBIT}/{vhost}"
    finally:
        _rabbitmqctl("delete_vhost", vhost)


@contextlib.contextmanager
def pg_schema() -> Iterator[str]:
    import sqlalchemy

    schema = f"c_{uuid.uuid4().hex[:12]}"
    admin = sqlalchemy.create_engine(PG_URL)
    try:
        with admin.begin() as connection:
            connection.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
    except Exception as exc:  # noqa: BLE001
        admin.dispose()
        pytest.skip(f"PostgreSQL at {PG_URL} is not reachable: {type(exc).__name__}")
    try:
        yield f"{PG_URL}?options=-csearch_path%3D{schema}"
    finally:
        with admin.begin() as connection:
            connection.exec_driver_sql(f'DROP SCHEMA "{schema}" CASCADE')
        admin.dispose()


def write_instance(instance: Path, **settings: object) -> Config:
    """An instance folder whose config.toml the worker subprocesses read."""
    instance.mkdir(parents=True, exist_ok=True)
    lines = []
    for key, value in settings.items():
        lines.append(f"{key} = {value!r}".replace("'", '"') if isinstance(value, str) else
                     f"{key} = {str(value).lower() if isinstance(value, bool) else value}")
    (instance / "config.toml").write_text("\n".join(lines) + "\n")
    return Config.load(environ={}, instance_path=str(instance)).ensure_instance()


@dataclass
class CeleryService:
    """The database, the broker and the `grader worker` processes of one test."""

    config: Config
    db: Database
    workdir: Path
    workers: dict[str, subprocess.Popen] = field(default_factory=dict)
    pool_processes: int = 0  # how many "pool process ready" lines to wait for

    def start_worker(self, name: str, concurrency: int = 1, queues: str | None = None) -> subprocess.Popen:
        argv = [sys.executable, "-m", "grader", "--bank", str(ROOT), "worker", "--instance",
                str(self.config.instance_path), "-c", str(concurrency), "--name", name, "--loglevel", "WARNING"]
        if queues:
            argv += ["--queues", queues]
        log = open(self.workdir / f"{name}.out", "ab")  # noqa: SIM115 - kept for the process's lifetime
        env = {k: v for k, v in os.environ.items() if not k.startswith("GRADER_")}
        process = subprocess.Popen(argv, cwd=ROOT, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                   start_new_session=True, env=env)
        log.close()
        self.workers[name] = process
        self.pool_processes += concurrency
        return process

    def wait_ready(self, timeout: float = 90.0) -> None:
        """Every worker's pool processes have started their sandbox (they log it)."""
        def ready() -> bool:
            for name, process in self.workers.items():
                if process.poll() is not None:
                    raise AssertionError(f"worker {name} exited with {process.returncode}: {self.output(name)}")
            logged = self.log_text().count("pool process ready")
            return logged >= self.pool_processes
        wait_for(ready, timeout, "the workers' pool processes")

    def log_text(self) -> str:
        path = self.config.log_dir / "grader.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def output(self, name: str) -> str:
        return (self.workdir / f"{name}.out").read_text(errors="replace")[-3000:]

    def stop_worker(self, name: str, timeout: float = 20.0) -> None:
        process = self.workers.pop(name)
        _stop_group(process, timeout)

    def stop_all(self) -> None:
        """TERM to every worker first, so that their warm shutdowns overlap."""
        for process in self.workers.values():
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)
        for name in list(self.workers):
            self.stop_worker(name)


def _stop_group(process: subprocess.Popen, timeout: float) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        pass
    with contextlib.suppress(ProcessLookupError):  # pool processes and fork servers left behind
        os.killpg(process.pid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout=10)


@contextlib.contextmanager
def celery_service(workdir: Path, broker_url: str, **settings: object) -> Iterator[CeleryService]:
    """A migrated PostgreSQL schema with the demo course, and an instance configured for
    Celery on ``broker_url``; the workers started on it are stopped at the end."""
    from grader.engine.bank import Bank
    from grader.store import migrate, seed

    with pg_schema() as url:
        options = dict(database_url=url, queue="celery", broker_url=broker_url, lease_seconds=4.0,
                       sweep_seconds=2.0, ratelimit_enabled=False)
        options.update(settings)
        config = write_instance(workdir / "instance", **options).replace(testing=True)
        db = Database(url)
        migrate.upgrade(db.engine)
        with db.unit_of_work() as session:
            seed.seed_if_empty(session, Bank(ROOT))
        service = CeleryService(config, db, workdir)
        try:
            yield service
        finally:
            service.stop_all()
            db.dispose()


def broker_for(kind: str, workdir: Path) -> contextlib.AbstractContextManager:
    """A context manager yielding (broker url, the RedisServer or None)."""
    @contextlib.contextmanager
    def made() -> Iterator[tuple[str, RedisServer | None]]:
        if kind == "redis":
            with redis_broker(workdir) as server:
                yield server.url, server
        else:
            with rabbit_vhost() as url:
                yield url, None
    return made()
