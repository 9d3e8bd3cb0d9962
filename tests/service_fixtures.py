"""Fixtures for the service: a migrated database on SQLite *and* PostgreSQL, an app, a live
server on loopback with a grading worker. Loaded from ``tests/conftest.py``.

Every test that takes ``db`` (or anything built on it) runs once per back end. PostgreSQL
tests get a schema of their own in the ``test`` database and drop it afterwards; they are
skipped with a clear reason only when ``GRADER_TEST_PG_URL`` cannot be reached (CI starts
PostgreSQL, so there they always run).
"""

from __future__ import annotations

import os
import re
import threading
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import pytest

from grader.config import Config
from grader.store import accounts, migrate, seed
from grader.store.db import Database

PG_URL = os.environ.get("GRADER_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
BACKENDS = ["sqlite", "postgresql"]


def _pg_reachable() -> str | None:
    import sqlalchemy

    try:
        engine = sqlalchemy.create_engine(PG_URL)
        with engine.connect() as connection:
            connection.exec_driver_sql("SELECT 1")
        engine.dispose()
        return None
    except Exception as exc:  # noqa: BLE001
        return f"PostgreSQL at {PG_URL} is not reachable: {type(exc).__name__}"


@pytest.fixture(scope="session")
def pg_problem() -> str | None:
    return _pg_reachable()


@pytest.fixture(autouse=True, scope="session")
def cheap_password_hashing() -> Iterator[None]:
    """Argon2id with its cheapest parameters in this process: the default costs ~140 ms per
    hash and per check, and nearly every service test creates accounts and signs in.
    (Servers the tests start in subprocesses keep the real parameters.)"""
    from argon2 import PasswordHasher, profiles

    saved = accounts._hasher, accounts._DUMMY_HASH
    accounts._hasher = PasswordHasher.from_parameters(profiles.CHEAPEST)
    accounts._DUMMY_HASH = accounts._hasher.hash("not a password")
    yield
    accounts._hasher, accounts._DUMMY_HASH = saved


@pytest.fixture(params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path: Path, pg_problem: str | None) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'grader.db'}"
        return
    if pg_problem:
        pytest.skip(pg_problem)
    import sqlalchemy

    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = sqlalchemy.create_engine(PG_URL)
    with admin.begin() as connection:
        connection.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
    yield f"{PG_URL}?options=-csearch_path%3D{schema}"
    with admin.begin() as connection:
        connection.exec_driver_sql(f'DROP SCHEMA "{schema}" CASCADE')
    admin.dispose()


@pytest.fixture(scope="session")
def migrated_sqlite(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite file migrated once per session; each test gets a copy (the migrations
    themselves are tested in test_migrations.py, on empty databases)."""
    path = tmp_path_factory.mktemp("template") / "grader.db"
    database = Database(f"sqlite:///{path}")
    migrate.upgrade(database.engine)
    database.dispose()  # the last connection checkpoints the WAL into the file
    return path


@pytest.fixture
def db(database_url: str, migrated_sqlite: Path) -> Iterator[Database]:
    if database_url.startswith("sqlite:///"):
        import shutil

        shutil.copyfile(migrated_sqlite, database_url.removeprefix("sqlite:///"))
        database = Database(database_url)
    else:
        database = Database(database_url)
        migrate.upgrade(database.engine)
    yield database
    database.dispose()


@pytest.fixture
def service_config(tmp_path: Path, database_url: str) -> Config:
    return Config(instance_path=tmp_path / "instance", database_url=database_url, testing=True,
                  ratelimit_enabled=False, poll_seconds=0.05, lease_seconds=5.0).ensure_instance()


@pytest.fixture
def demo(db: Database, bank) -> dict[str, seed.DemoAccount]:  # noqa: ANN001
    """The demo course with the whole bank, ``demo["student"]`` and ``demo["instructor"]``."""
    with db.unit_of_work() as session:
        made = seed.seed_if_empty(session, bank)
    return {account.role: account for account in made}


def add_user(db: Database, email: str, role: str = "student", password: str = "password-123",
             course: str = "demo") -> seed.DemoAccount:
    with db.unit_of_work() as session:
        user = accounts.create_user(session, email, email.split("@")[0].title(), role, password)
        accounts.enrol(session, user, accounts.course(session, course), role)
    return seed.DemoAccount(role, email, password)


def make_token(db: Database, email: str) -> str:
    with db.unit_of_work() as session:
        return accounts.create_token(session, accounts.user_by_email(session, email))


@pytest.fixture
def app(service_config: Config, db: Database, demo):  # noqa: ANN001, ANN201
    from grader.web import create_app

    return create_app(service_config, db)


@pytest.fixture
def client(app):  # noqa: ANN001, ANN201
    return app.test_client()


CSRF = re.compile(r'name="csrf_token"(?: type="hidden")? value="([^"]+)"')


def csrf_token(html: str) -> str:
    found = CSRF.search(html)
    assert found, "no CSRF token on the page"
    return found.group(1)


def login(client, account: seed.DemoAccount):  # noqa: ANN001, ANN201
    page = client.get("/login")
    response = client.post("/login", data={"email": account.email, "password": account.password,
                                           "csrf_token": csrf_token(page.text)})
    assert response.status_code == 302, response.text
    return response


@dataclass
class LiveService:
    url: str
    db: Database
    accounts: dict[str, seed.DemoAccount]
    config: Config

    def drain(self, timeout: float = 120.0) -> None:
        """Wait until no run is queued or running."""
        import time

        from sqlalchemy import func, select

        from grader.store.models import GradingRun

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.db.reading() as session:
                pending = session.scalar(select(func.count()).select_from(GradingRun).where(
                    GradingRun.status.in_(("queued", "running"))))
            if not pending:
                return
            time.sleep(0.1)
        raise AssertionError("the queue did not drain in time")


@pytest.fixture
def live_service(app, db: Database, demo, bank, sandbox, service_config: Config) -> Iterator[LiveService]:  # noqa: ANN001
    """The app behind waitress on a free loopback port, plus one grading worker thread that
    uses the test session's warm sandbox."""
    from waitress import create_server

    from grader.queue.worker import Worker

    server = create_server(app, host="127.0.0.1", port=0, threads=8, clear_untrusted_proxy_headers=True)
    web = threading.Thread(target=server.run, name="waitress", daemon=True)
    web.start()
    stop = threading.Event()
    worker = Worker(service_config, db, bank, sandbox)
    grading = threading.Thread(target=worker.run_forever, args=(stop,), name="worker", daemon=True)
    grading.start()
    try:
        yield LiveService(f"http://127.0.0.1:{server.effective_port}", db, demo, service_config)
    finally:
        stop.set()
        grading.join(timeout=60)
        server.close()
