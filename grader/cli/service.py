"""Service commands: ``grader db upgrade|current|downgrade`` (``serve`` lives in ``serve``),
and what every command that talks to the database shares."""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING, Iterator

import click

from grader.cli.base import Context, main
from grader.config import Config, ConfigError
from grader.store.db import Database

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from grader.engine.bank import Bank
    from grader.store.models import Course

INSTANCE_OPTION = click.option("--instance", "instance_path", envvar="GRADER_INSTANCE_PATH", metavar="DIR",
                               help="Instance folder: database, secret key, logs (default: ./instance).")


def load_config(instance_path: str | None = None, **overrides) -> Config:  # noqa: ANN003
    try:
        return Config.load(instance_path=instance_path, **overrides).ensure_instance()
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None


def open_database(config: Config, upgrade: bool = True) -> Database:
    """The instance's database, migrated to the newest schema unless ``upgrade`` is False."""
    from grader.store import migrate

    database = Database(config.sqlalchemy_url)
    try:
        if upgrade:
            migrate.upgrade(database.engine)
    except Exception as exc:  # noqa: BLE001 - an unreachable or broken database
        raise click.ClickException(f"cannot open the database {_safe(config.sqlalchemy_url)}: {exc}") from None
    return database


@contextlib.contextmanager
def instance_database(instance_path: str | None) -> Iterator[tuple["Config", "Database"]]:
    config = load_config(instance_path)
    database = open_database(config)
    try:
        yield config, database
    finally:
        database.dispose()


def bank_of(obj: Context, config: "Config") -> "Bank":
    """``--bank`` / ``$GRADER_BANK`` first, then the instance's ``bank`` setting, then ``.``."""
    from grader.engine.bank import Bank, BankError

    if obj.bank_path or config.bank is None:
        return obj.bank()
    try:
        return Bank.locate({"GRADER_BANK": str(config.bank)})
    except BankError as exc:
        raise click.ClickException(str(exc)) from None


def course_or_error(session: "Session", course_id: str) -> "Course":
    """The course, or a clear error that names the courses there are."""
    from grader.store import accounts

    try:
        return accounts.course(session, course_id)
    except accounts.AccountError as exc:
        raise click.ClickException(str(exc)) from None


def _safe(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


@main.group()
def db() -> None:
    """Schema migrations of the instance's database (Alembic)."""


@db.command()
@INSTANCE_OPTION
@click.argument("revision", default="head")
def upgrade(instance_path: str | None, revision: str) -> None:
    """Migrate to REVISION (default: the newest). `grader serve` does this on start."""
    from grader.store import migrate

    database = open_database(load_config(instance_path), upgrade=False)
    migrate.upgrade(database.engine, revision)
    click.echo(f"database at revision {migrate.current(database.engine)}")


@db.command()
@INSTANCE_OPTION
def current(instance_path: str | None) -> None:
    """Print the database's revision, and whether it is the newest."""
    from grader.store import migrate

    database = open_database(load_config(instance_path), upgrade=False)
    revision, head = migrate.current(database.engine), migrate.head()
    state = "newest" if revision == head else f"newest is {head}"
    click.echo(f"{revision or 'empty (no schema)'} ({state})")


@db.command()
@INSTANCE_OPTION
@click.argument("revision", default="-1")
def downgrade(instance_path: str | None, revision: str) -> None:
    """Migrate back to REVISION (default: one step; `base` empties the schema)."""
    from grader.store import migrate

    database = open_database(load_config(instance_path), upgrade=False)
    migrate.downgrade(database.engine, revision)
    click.echo(f"database at revision {migrate.current(database.engine) or 'base (empty)'}")
