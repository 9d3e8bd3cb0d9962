"""``grader serve``: the web server, N grading workers and the grade outbox, supervised together.

The supervisor (this process) migrates the database, syncs the bank, seeds an empty
instance, then runs one web process (waitress) and ``--workers`` worker processes, each
owning one warm fork server for its whole life. A child that dies is restarted; Ctrl-C or
SIGTERM stops them all. Children ask the kernel for SIGTERM when the supervisor dies
(``PR_SET_PDEATHSIG``), so even ``kill -9`` of the supervisor leaves no orphans; their
runs' leases then expire and the next start grades those runs again (exactly once).
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field

import click

from grader.cli.base import EXIT_SANDBOX, Context, main
from grader.cli.service import INSTANCE_OPTION, bank_of, load_config, open_database
from grader.ops.lifetime import die_with_parent

log = logging.getLogger("grader.serve")
STOP_GRACE_SECONDS = 15.0
WORKER_NICENESS = 19


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(0, 65535), help="Port to listen on.")
@click.option("--workers", "-w", type=click.IntRange(0, 64), default=None,
              help="Grading worker processes (default: one per core; 0: web only).")
@click.option("--threads", default=8, show_default=True, type=click.IntRange(1, 64), help="Web server threads.")
@INSTANCE_OPTION
@click.pass_obj
def serve(obj: Context, host: str, port: int, workers: int | None, threads: int, instance_path: str | None) -> None:
    """Run the grading site: the web app and its grading workers.

    \b
    On the first start of an empty instance this creates a demo course with every
    exercise of the bank and two accounts, and prints their passwords once.
    \b
    Examples:
      grader serve                          # http://127.0.0.1:8000, one worker per core
      grader serve --host 0.0.0.0 -w 4      # behind a reverse proxy, four workers
      GRADER_DATABASE_URL=postgresql+psycopg://user@db/grader grader serve
    """
    config = load_config(instance_path, unsafe_sandbox=obj.unsafe or None)
    celery = config.queue == "celery"
    if celery and not config.broker_url:
        raise click.ClickException("GRADER_QUEUE=celery needs GRADER_BROKER_URL (redis://... or amqp://...)")
    # celery: grading (and grade passback) is done by `grader worker` processes
    count = 0 if celery else config.worker_count if workers is None else workers
    _configure_logging(config, "serve")
    accounts = prepare_instance(obj, config)
    if accounts:
        click.secho("A new instance: created the demo course with the whole bank, and two accounts.",
                    fg="green")
        for account in accounts:
            click.echo(f"  {account.role:<10} {account.email:<26} password: {account.password}")
        click.echo("  These passwords are shown only now. Change them with `grader users add` or keep them safe.")
    supervisor = Supervisor(_base_args(obj), str(config.instance_path), host, port, threads, count)
    grading = (f"queue celery: web only, grading by `grader worker` via {_safe_broker(config.broker_url)}"
               if celery else f"{count} grading worker(s)")
    click.echo(f"torch-grader on http://{host}:{port}/  ({grading}, instance "
               f"{config.instance_path.resolve()}, log {config.log_dir.resolve() / 'grader.log'})")
    click.echo("Press Ctrl-C to stop.")
    code = supervisor.run()
    if code == EXIT_SANDBOX:
        raise click.ClickException("a grading worker could not start its sandbox: run `grader doctor`; "
                                   "see the log for details")
    sys.exit(code)


def _safe_broker(url: str) -> str:
    from kombu.utils.url import maybe_sanitize_url

    return maybe_sanitize_url(url)


def prepare_instance(obj: Context, config) -> list:  # noqa: ANN001
    """Migrate, sync the bank's exercises, seed an empty instance, free dead leases."""
    from grader.queue import claims
    from grader.store import seed

    database = open_database(config)
    bank = bank_of(obj, config)
    try:
        with database.unit_of_work() as session:
            made = seed.seed_if_empty(session, bank, config.default_course)
            freed = claims.expire_dead_local_leases(session)
    finally:
        database.dispose()
    if freed:
        log.info("%d run(s) held by dead workers of this host are queued again", freed)
    return made


def _base_args(obj: Context) -> list[str]:
    args = [sys.executable, "-m", "grader"]
    if obj.bank_path:
        args += ["--bank", obj.bank_path]
    if obj.unsafe:
        args.append("--unsafe-sandbox")
    return args


@dataclass
class Child:
    name: str
    argv: list[str]
    process: subprocess.Popen | None = None
    restarts: list[float] = field(default_factory=list)


class Supervisor:
    def __init__(self, base: list[str], instance: str, host: str, port: int, threads: int, workers: int):
        tail = ["--instance", instance]
        self.children = [Child("web", base + ["_web", "--host", host, "--port", str(port),
                                              "--threads", str(threads)] + tail)]
        self.children += [Child(f"worker-{n}", base + ["_worker"] + tail) for n in range(1, workers + 1)]
        if workers:  # grades are sent to platforms by the outbox, next to the workers that make them
            self.children.append(Child("outbox", base + ["_outbox"] + tail))
        self.stopping = threading.Event()
        self.exit_code = 0

    def run(self) -> int:
        previous = {sig: signal.signal(sig, self._on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
        try:
            for child in self.children:
                self._start(child)
            while not self.stopping.is_set():
                self._watch()
                self.stopping.wait(0.5)
        finally:
            self._stop_all()
            for sig, handler in previous.items():
                signal.signal(sig, handler)
        return self.exit_code

    def _on_signal(self, signum: int, _frame) -> None:  # noqa: ANN001
        self.stopping.set()

    def _start(self, child: Child) -> None:
        child.process = subprocess.Popen(child.argv, stdin=subprocess.DEVNULL)
        log.info("started %s (pid %d)", child.name, child.process.pid)

    def _watch(self) -> None:
        for child in self.children:
            code = child.process.poll() if child.process else None
            if code is None or self.stopping.is_set():
                continue
            if code == EXIT_SANDBOX:
                log.error("%s: the sandbox is not available; stopping", child.name)
                self.exit_code = EXIT_SANDBOX
                self.stopping.set()
                return
            now = time.monotonic()
            child.restarts = [t for t in child.restarts if now - t < 60] + [now]
            if len(child.restarts) > 5:
                log.error("%s died %d times within a minute; stopping", child.name, len(child.restarts))
                click.echo(f"{child.name} keeps dying (exit code {code}); see the log. Stopping.", err=True)
                self.exit_code = 1
                self.stopping.set()
                return
            log.warning("%s exited with code %s; restarting it", child.name, code)
            time.sleep(min(5.0, 0.5 * len(child.restarts)))
            self._start(child)

    def _stop_all(self) -> None:
        running = [c.process for c in self.children if c.process and c.process.poll() is None]
        for process in running:
            process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + STOP_GRACE_SECONDS
        for process in running:
            try:
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        log.info("stopped")


# ----------------------------------------------------------------------------- children
@main.command("_web", hidden=True)
@click.option("--host", default="127.0.0.1")
@click.option("--port", default=8000, type=int)
@click.option("--threads", default=8, type=int)
@INSTANCE_OPTION
@click.pass_obj
def web_process(obj: Context, host: str, port: int, threads: int, instance_path: str | None) -> None:
    """The web server process (started by `grader serve`)."""
    from waitress import serve as waitress_serve

    from grader.web import create_app

    die_with_parent()
    config = load_config(instance_path)
    _configure_logging(config, "web")
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    app = create_app(config, bank=bank_of(obj, config))
    waitress_serve(app, host=host, port=port, threads=threads, ident="torch-grader",
                   clear_untrusted_proxy_headers=True, _quiet=True)


@main.command("_worker", hidden=True)
@INSTANCE_OPTION
@click.pass_obj
def worker_process(obj: Context, instance_path: str | None) -> None:
    """A grading worker process (started by `grader serve`)."""
    die_with_parent()
    # Grading yields the CPU to the web process (and its fork server and children inherit
    # this): pages stay fast while every core grades, and grading loses almost nothing.
    os.nice(WORKER_NICENESS)
    obj.launch_early()  # the fork server's torch import overlaps ours
    config = load_config(instance_path)
    _configure_logging(config, "worker")
    stop = threading.Event()

    def on_signal(_signum: int, _frame) -> None:  # noqa: ANN001
        stop.set()
        raise KeyboardInterrupt  # abandon the run being graded: it is given back to the queue

    from grader.queue.worker import Worker
    from grader.store.db import Database

    bank = bank_of(obj, config)
    sandbox = obj.sandbox(bank)  # exits with EXIT_SANDBOX if a layer is missing
    database = Database(config.sqlalchemy_url)
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    try:
        Worker(config, database, bank, sandbox).run_forever(stop)
    except KeyboardInterrupt:
        pass
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        sandbox.close()
        database.dispose()


@main.command("_outbox", hidden=True)
@INSTANCE_OPTION
def outbox_process(instance_path: str | None) -> None:
    """The grade outbox process (started by `grader serve`): sends grades to platforms.
    No sandbox and no torch: it only reads the database and makes HTTP requests."""
    from grader.lms.outbox import Outbox
    from grader.store.db import Database

    die_with_parent()
    config = load_config(instance_path)
    _configure_logging(config, "outbox")
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    database = Database(config.sqlalchemy_url)
    try:
        Outbox(config, database).run_forever(stop)
    finally:
        database.dispose()


def _configure_logging(config, role: str) -> None:  # noqa: ANN001
    """Text lines by default; one JSON object per line with ``log_format = "json"``."""
    from grader.ops import logs

    try:
        logs.configure(config, role)
    except ValueError as exc:  # a bad log_format: said once, by the supervisor, before any child starts
        raise click.ClickException(str(exc)) from None
