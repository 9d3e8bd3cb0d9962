"""The database handle: one engine, sessions, and the unit of work that commits.

SQLite gets WAL mode, foreign keys and a busy timeout on every connection. Its writing
transactions start with ``BEGIN IMMEDIATE``: a deferred transaction that read first and then
writes fails at once (``SQLITE_BUSY``) when another writer committed in between, which a
busy timeout cannot cure.
"""

from __future__ import annotations

import contextlib
import time
from typing import Callable, Iterator, TypeVar

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.exc import DisconnectionError, IntegrityError
from sqlalchemy.orm import Session, sessionmaker

SQLITE_BUSY_MS = 30_000
PING_AFTER_IDLE_SECONDS = 2.0
T = TypeVar("T")


class Database:
    def __init__(self, url: str, echo: bool = False):
        self.url = url
        self.is_sqlite = url.startswith("sqlite")
        if self.is_sqlite:
            self.engine = create_engine(url, echo=echo, connect_args={"timeout": SQLITE_BUSY_MS / 1000})
            _configure_sqlite(self.engine)
            writer = self.engine.execution_options(sqlite_begin="BEGIN IMMEDIATE")
            single = writer  # our BEGIN listener would leave an AUTOCOMMIT connection in a transaction
        else:
            self.engine = create_engine(url, echo=echo, pool_size=10, max_overflow=20)
            _ping_after_idle(self.engine)
            writer = self.engine
            single = self.engine.execution_options(isolation_level="AUTOCOMMIT")
        self._single = sessionmaker(single, expire_on_commit=False)
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

    def unit_of_work_run_again_if_raced(self, work: Callable[[Session], T],
                                        raced: tuple[type[Exception], ...] = ()) -> T:
        """``work(session)`` in a unit of work, run once more in a new one if it raised an
        IntegrityError (or one of ``raced``): a concurrent writer committed the row this one
        found missing (READ COMMITTED on PostgreSQL) and won its UNIQUE constraint. All of
        the first run was rolled back; the second finds the winner's row. (SQLite's ``BEGIN
        IMMEDIATE`` already serialises writers; PostgreSQL needs this.)"""
        try:
            with self.unit_of_work() as session:
                return work(session)
        except (IntegrityError, *raced):
            with self.unit_of_work() as session:
                return work(session)

    @contextlib.contextmanager
    def statements(self) -> Iterator[Session]:
        """Each statement commits on its own: for work that is one atomic statement, or a read
        of rows that never change. On PostgreSQL that saves the BEGIN and COMMIT round trips,
        which a machine busy grading schedules slowly; on SQLite it is a unit of work."""
        with self._single() as session:
            with session.begin():
                yield session

    @contextlib.contextmanager
    def reading(self) -> Iterator[Session]:
        with self._reader() as session:
            yield session

    def dispose(self) -> None:
        self.engine.dispose()


def _ping_after_idle(engine: Engine) -> None:
    """``pool_pre_ping``, but only for a connection that sat in the pool for a while: one
    that was used a moment ago is alive, and under a burst a ping per transaction is a
    round trip a busy machine schedules slowly (two of a grade's dozen). A dead connection
    found here is replaced (the pool retries on ``DisconnectionError``); one that dies in
    use fails that statement, and SQLAlchemy then invalidates the whole pool."""
    @event.listens_for(engine, "checkin")
    def on_checkin(_dbapi_connection, record) -> None:  # noqa: ANN001
        record.info["returned"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def on_checkout(dbapi_connection, record, _proxy) -> None:  # noqa: ANN001
        if time.monotonic() - record.info.get("returned", 0.0) < PING_AFTER_IDLE_SECONDS:
            return
        try:
            engine.dialect.do_ping(dbapi_connection)
        except Exception as exc:  # noqa: BLE001 - whatever the driver says, the connection is gone
            raise DisconnectionError() from exc


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
