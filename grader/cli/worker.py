"""``grader worker``: a Celery worker that grades (GRADER_QUEUE=celery).

Each pool process (prefork, ``--concurrency``) owns one warm fork server for its lifetime;
the main process runs the sweeper. Before the pool starts, the main process starts the
sandbox once, so a host that lacks a sandbox layer stops at once with EXIT_SANDBOX (as the
embedded workers do) instead of failing every task.
"""

from __future__ import annotations

import os
import socket
import sys
import warnings

import click

from grader.cli.base import Context, main
from grader.cli.serve import WORKER_NICENESS
from grader.cli.service import INSTANCE_OPTION, bank_of, load_config, open_database

PING_TIMEOUT_SECONDS = 2.0


@main.command()
@click.option("--concurrency", "-c", type=click.IntRange(1, 256), default=None,
              help="Pool processes, each with its own sandbox (default: one per core).")
@click.option("--queues", "-Q", default=None, metavar="Q1,Q2",
              help="Queues to consume, in priority order (default: grading.interactive,grading.regrade,deliveries).")
@click.option("--ping", is_flag=True, help="Ask the running workers to answer; exit 1 if none does.")
@click.option("--name", default=None, help="Node name (default: grader-<host>-<pid>).")
@click.option("--loglevel", default="INFO", show_default=True)
@INSTANCE_OPTION
@click.pass_obj
def worker(obj: Context, concurrency: int | None, queues: str | None, ping: bool, name: str | None,
           loglevel: str, instance_path: str | None) -> None:
    """Grade the runs that the web process publishes to the broker (GRADER_QUEUE=celery).

    \b
    Needs GRADER_QUEUE=celery, GRADER_BROKER_URL and a PostgreSQL GRADER_DATABASE_URL
    shared with the web process. Run `grader doctor` on every worker host first.
    \b
    Examples:
      grader worker -c 4                       # four pool processes (four fork servers)
      grader worker -Q grading.regrade         # a machine that only regrades
      grader worker --ping                     # which workers answer?
    """
    from grader.queue.celery_app import ALL_QUEUES, CeleryNotConfigured, check_config, make_celery

    config = load_config(instance_path, unsafe_sandbox=obj.unsafe or None)
    try:
        check_config(config)
    except CeleryNotConfigured as exc:
        raise click.ClickException(str(exc)) from None
    if ping:
        sys.exit(_ping(make_celery(config)))
    if config.is_sqlite:
        raise click.ClickException("GRADER_QUEUE=celery needs a database that every machine shares: set "
                                   "GRADER_DATABASE_URL=postgresql+psycopg://... (SQLite is one file on one machine)")
    chosen = [q.strip() for q in (queues or ",".join(ALL_QUEUES)).split(",") if q.strip()]
    unknown = sorted(set(chosen) - set(ALL_QUEUES))
    if unknown:
        raise click.UsageError(f"unknown queue(s) {', '.join(unknown)}; the queues are {', '.join(ALL_QUEUES)}")
    _configure_logging(config)
    _require_current_schema(config)
    bank = bank_of(obj, config)
    obj.sandbox(bank).close()  # exits with EXIT_SANDBOX if a layer is missing
    app = make_celery(config)
    _attach(app, obj, config)
    node = name or f"grader-{socket.gethostname()}-{os.getpid()}"
    count = concurrency or config.worker_count
    click.echo(f"grader worker {node}: {count} pool process(es), queues {', '.join(chosen)}, "
               f"broker {_safe(config.broker_url)}")
    warnings.filterwarnings("ignore", message=".*superuser privileges.*")  # the sandbox needs root; JSON only
    celery_worker = app.Worker(hostname=node if "@" in node else f"{node}@{socket.gethostname()}", concurrency=count,
                               pool="prefork", queues=chosen, loglevel=loglevel, without_mingle=True,
                               without_gossip=True, optimization="fair", quiet=True)
    celery_worker.start()
    sys.exit(celery_worker.exitcode or 0)


def _attach(app, obj: Context, config) -> None:  # noqa: ANN001
    from grader.queue import tasks
    from grader.queue.publish import CeleryPublisher
    from grader.queue.sweeper import Sweeper
    from grader.store.db import Database

    def open_resources():  # noqa: ANN202 - in each pool process
        # As the embedded workers: grading yields the CPU to whatever shares the host (the
        # web process, the database, the worker's own consumer), and loses almost nothing.
        os.nice(WORKER_NICENESS)
        bank = bank_of(obj, config)
        return bank, obj.sandbox(bank)

    holder: dict = {}

    def start_sweeper() -> None:
        database = Database(config.sqlalchemy_url)
        sweeper = Sweeper(config, database, CeleryPublisher(config, app=app))
        holder.update(sweeper=sweeper, database=database)
        sweeper.start()

    def stop_sweeper() -> None:
        if "sweeper" in holder:
            holder["sweeper"].stop()
            holder["database"].dispose()

    tasks.attach_pool(app, config, open_resources, on_ready=start_sweeper, on_shutdown=stop_sweeper)


def _ping(app) -> int:  # noqa: ANN001
    try:
        answers = app.control.inspect(timeout=PING_TIMEOUT_SECONDS).ping() or {}
    except Exception as exc:  # noqa: BLE001 - the broker is away
        click.echo(f"cannot reach the broker: {type(exc).__name__}: {exc}", err=True)
        return 1
    if not answers:
        click.echo("no worker answered", err=True)
        return 1
    for node in sorted(answers):
        click.echo(f"{node}: ok")
    return 0


def _configure_logging(config) -> None:  # noqa: ANN001
    from grader.cli.serve import _configure_logging as configure

    configure(config, "worker")


def _safe(url: str) -> str:
    from kombu.utils.url import maybe_sanitize_url

    return maybe_sanitize_url(url)


def _require_current_schema(config) -> None:  # noqa: ANN001
    """The database must be reachable and migrated. A worker does not migrate it: many
    workers starting at once must not race each other; `grader db upgrade` runs once per deploy."""
    from grader.store import migrate

    database = open_database(config, upgrade=False)
    try:
        revision = migrate.current(database.engine)
    except Exception as exc:  # noqa: BLE001 - unreachable
        raise click.ClickException(f"cannot reach the database: {type(exc).__name__}: {exc}") from None
    finally:
        database.dispose()
    if revision != migrate.head():
        raise click.ClickException(f"the database is at revision {revision or 'none'}, the code needs "
                                   f"{migrate.head()}: run `grader db upgrade` first")
