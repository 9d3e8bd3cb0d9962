"""The database handle: one engine, sessions, and the unit of work that commits.

SQLite gets WAL mode, foreign keys and a busy timeout on every connection. Its writing
transactions start with ``BEGIN IMMEDIATE``: a deferred transaction that read first and then
writes fails at once (``SQLITE_BUSY``) when another writer committed in between, which a
busy timeout cannot cure.
"""

from __future__ import annotations

import contextlib
from typing import Iterator

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.orm import Session, sessionmaker

SQLITE_BUSY_MS = 30_000


class Database:
    def __init__(self, url: str, echo: bool = False):
        self.url = url
        self.is_sqlite = url.startswith("sqlite")
        if self.is_sqlite:
            self.engine = create_engine(url, echo=echo, connect_args={"timeout": SQLITE_BUSY_MS / 1000})
            _configure_sqlite(self.engine)
            writer = self.engine.execution_options(sqlite_begin="BEGIN IMMEDIATE")
        else:
            self.engine = create_engine(url, echo=echo, pool_pre_ping=True, pool_size=10, max_overflow=20)
            writer = self.engine
        self._reader = sessionmaker(self.engine, expire_on_commit=False)
        self._writer = sessionmaker(writer, expire_on_commit=False)

    def session(self) -> Session:
        """A session for reading (commit it yourself if you write through it)."""
        return self._reader()

    @contextlib.contextmanager
    def unit_of_work(self) -> Iterator[Session]:
        """A writing transaction: commits when the block ends, rolls back if it raises."""
        with self._writer() as session:
            with session.begin():
                yield session

    @contextlib.contextmanager
    def reading(self) -> Iterator[Session]:
        with self._reader() as session:
            yield session

    def dispose(self) -> None:
        self.engine.dispose()


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def on_connect(dbapi_connection, _record) -> None:  # noqa: ANN001
        dbapi_connection.isolation_level = None  # we emit BEGIN ourselves
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_MS}")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def on_begin(connection) -> None:  # noqa: ANN001
        connection.exec_driver_sql(connection.get_execution_options().get("sqlite_begin", "BEGIN"))
