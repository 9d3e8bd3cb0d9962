"""Engine commands: check, grade, exercises, release, doctor, bench."""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

import click

from grader.cli.base import (EXIT_PROBLEMS, EXIT_SANDBOX, LANG_OPTION, LOCALE, Context, _chosen, main,
                              warm_in_background)


@main.command()
@click.pass_obj
def exercises(obj: Context) -> None:
    """List the exercises in the bank."""
    for exercise in _chosen(obj.bank(), ()):
        click.echo(f"{exercise.slug:<32} {exercise.points:>4g} pts  {exercise.title}")
        click.echo(f"{'':<32}           {exercise.summary}")


@main.command()
@click.argument("slugs", nargs=-1, metavar="[SLUG]...")
@click.pass_obj
def check(obj: Context, slugs: tuple[str, ...]) -> None:
    """Validate the bank (or the named exercises).

    Every reference solution must score full marks, every stub must score less and fail the
    check its bug targets, grading twice must give identical results, the metadata must be
    complete and stub.ipynb in sync with stub.py. Exits 1 with a list of problems otherwise.
    """
    obj.launch_early()
    from grader.engine.validate import check_bank

    bank = obj.bank()
    chosen = _chosen(bank, slugs)
    started = time.perf_counter()
    click.echo(f"Checking {len(chosen)} exercise(s) in {bank.root} ...", err=True)
    with obj.sandbox(bank) as sandbox:
        def progress(index: int, total: int, report) -> None:
            state = click.style("ok", fg="green") if report.ok else click.style("PROBLEMS", fg="red")
            scores = ""
            if report.solution_score is not None:
                scores = (f"solution {report.solution_score:g}/{report.max_score:g}, "
                          f"stub {report.stub_score:g}/{report.max_score:g}, ")
            counter = f"[{index}/{total}]"
            click.echo(f"{counter:<{2 * len(str(total)) + 3}} {report.slug:<32} {state}  "
                       f"({scores}{report.seconds:.1f} s)", err=True)

        reports = check_bank(chosen, sandbox, progress)
    bad = [r for r in reports if not r.ok]
    elapsed = time.perf_counter() - started
    if bad:
        click.echo(f"\n{len(bad)} of {len(reports)} exercise(s) have problems:")
        for report in bad:
            for problem in report.problems:
                click.echo(f"  {report.slug}: {problem}")
        click.echo(f"({elapsed:.1f} s)")
        sys.exit(EXIT_PROBLEMS)
    click.echo(f"All {len(reports)} exercise(s) are valid ({elapsed:.1f} s).")


@main.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--exercise", "-e", "slug", required=True, help="The exercise to grade against.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object per file (JSON Lines).")
@click.option("--jobs", "-j", default=1, show_default=True, type=click.IntRange(1, 64),
              help="Grade this many files in parallel (one warm fork server per job).")
@click.option("--student-view", is_flag=True, help="Hide the details of hidden checks.")
@LANG_OPTION
@click.pass_obj
def grade(obj: Context, paths: tuple[Path, ...], slug: str, as_json: bool, jobs: int, student_view: bool,
          locale: str) -> None:
    """Grade PATH... (.py or .ipynb) against an exercise.

    Feedback is written in the language of --lang (en, zh, ru; default: from $LANG); in
    --json output the check names, verdicts and field names stay English identifiers."""
    if jobs == 1:
        obj.launch_early()
    from grader.engine.bank import BankError
    from grader.engine.batch import grade_files
    from grader.engine.report import format_grade
    from grader.i18n.localize import localize_result
    from grader.sandbox.client import SandboxUnavailable

    bank = obj.bank()
    try:
        exercise = bank.exercise(slug)
    except BankError as exc:
        raise click.ClickException(str(exc)) from None
    show_progress = len(paths) > 1
    done = [0]

    def emit(result) -> None:
        done[0] += 1
        if as_json:
            data = result.student_dict() if student_view else result.to_dict()
            click.echo(json.dumps(localize_result(data, locale), ensure_ascii=False, separators=(",", ":")))
        else:
            click.echo(format_grade(result, show_hidden=not student_view, locale=locale) + "\n")
        if show_progress:
            click.echo(f"[{done[0]}/{len(paths)}] graded {result.file}: "
                       f"{result.score:g}/{result.max_score:g}", err=True)

    try:
        if obj.early is not None:
            warm_in_background()  # a daemon thread; the first reference waits for its imports
        grade_files(exercise, list(paths), obj.settings(bank), jobs=jobs, on_result=emit,
                    launched=obj.early)
    except SandboxUnavailable as exc:
        click.secho(f"error: {exc}", fg="red", err=True)
        sys.exit(EXIT_SANDBOX)


@main.command()
@click.argument("slugs", nargs=-1, metavar="[SLUG]...")
@click.option("--out", type=click.Path(path_type=Path), default=Path("release"), show_default=True,
              help="Where to write one folder per exercise (README.md, stub.py, stub.ipynb).")
@click.option("--update-bank", is_flag=True,
              help="Also regenerate exercises/<slug>/stub.ipynb from stub.py.")
@click.option("--lang", "locale", type=LOCALE, default="en", show_default=True,
              help="The statement's language in the bundles (README.md): en, zh or ru.")
@click.pass_obj
def release(obj: Context, slugs: tuple[str, ...], out: Path, update_bank: bool, locale: str) -> None:
    """Write the student bundles: statement, stub.py and its notebook (never solutions)."""
    from grader.engine.release import update_bank_notebook, write_bundle

    chosen = _chosen(obj.bank(), slugs)
    for exercise in chosen:
        if update_bank and update_bank_notebook(exercise):
            click.echo(f"updated {exercise.notebook_path}", err=True)
        target = write_bundle(exercise, out, locale)
        click.echo(f"{exercise.slug}: {target}")


@main.command()
@click.pass_obj
def doctor(obj: Context) -> None:
    """Show which sandbox layers this machine offers; exits 1 if one is missing."""
    import hypothesis
    import torch

    from grader.engine.bank import Bank, BankError
    from grader.sandbox.client import Sandbox, SandboxSettings, SandboxUnavailable

    click.echo(f"python {sys.version.split()[0]}, torch {torch.__version__}, "
               f"hypothesis {hypothesis.__version__}")
    sandbox = Sandbox(SandboxSettings(unsafe=True))
    try:
        with sandbox:
            statuses = sandbox.probe()
            click.echo(f"fork server: ready in {sandbox.warmup_seconds:.2f} s "
                       "(import torch, warm up autograd, torch.optim, matplotlib)")
    except SandboxUnavailable as exc:
        click.secho(f"fork server: cannot start: {exc}", fg="red")
        sys.exit(EXIT_SANDBOX)
    click.echo("sandbox layers (applied in this order in every child):")
    for status in statuses:
        mark = click.style("active ", fg="green") if status.available else click.style("MISSING", fg="red")
        click.echo(f"  {mark}  {status.name:<12} {status.detail}")
    try:
        bank = Bank.locate({"GRADER_BANK": obj.bank_path} if obj.bank_path else None)
        click.echo(f"bank: {bank.root} ({len(bank.slugs())} exercises)")
    except BankError as exc:
        click.echo(f"bank: {exc}")
    missing = [s.name for s in statuses if not s.available]
    if missing:
        click.secho(f"missing layers: {', '.join(missing)}; the grader will refuse to run "
                    "student code (unless --unsafe-sandbox).", fg="red")
        sys.exit(EXIT_PROBLEMS)


@main.command()
@click.option("--exercise", "-e", "slugs", multiple=True, help="Exercise(s) to benchmark (default: all).")
@click.option("--submissions", "-n", default=20, show_default=True, type=click.IntRange(2, 1000),
              help="Submissions graded per exercise.")
@click.option("--jobs", "-j", default=2, show_default=True, type=click.IntRange(1, 64),
              help="Parallel workers for the throughput figure.")
@click.option("--json", "as_json", is_flag=True, help="Print the figures as JSON.")
@click.option("--mixed", is_flag=True,
              help="Also time a mixed set (half buggy) through one `grader grade -j` call: the "
                   "marginal cost per submission next to `python -c \"import torch\"`.")
@click.option("--service", is_flag=True,
              help="Benchmark the whole service instead: a burst through the HTTP API of a fresh "
                   "`grader serve` with 1 and -j workers, next to `grader grade -j` on the same files.")
@click.option("--celery", is_flag=True,
              help="With --service: the burst through the embedded queue and through Celery workers "
                   "(PostgreSQL at $GRADER_BENCH_PG_URL, Redis at $GRADER_BENCH_BROKER_URL; defaults: "
                   "this machine's), with the capacity a 1,000-submission deadline needs.")
@click.option("--rounds", default=3, show_default=True, type=click.IntRange(1, 20),
              help="With --service --celery: bursts per back end, each between two runs of the "
                   "baseline; the ratio is the median of the bursts' ratios.")
@click.option("--deadline", is_flag=True,
              help="With --service --celery: then simulate the 1,000-submission deadline with the "
                   "worker processes the capacity line names (at most -j; a share of the burst if "
                   "more are needed) and say whether everyone is scored within 5 minutes.")
@click.pass_obj
def bench(obj: Context, slugs: tuple[str, ...], submissions: int, jobs: int, as_json: bool,
          mixed: bool, service: bool, celery: bool, rounds: int, deadline: bool) -> None:
    """Measure latency and throughput against the in-process lower bound, in one run.

    Passing submissions (the reference solution) and failing ones (the stub) are timed
    separately, each beside its in-process lower bound.

    \b
    Examples:
      grader bench -n 20 -e none-grad-after-rebinding
      grader bench -n 10 --mixed               # plus the mixed-set marginal cost
      grader bench --service -n 60 -j 2        # the service against `grader grade -j 2`
      grader bench --service --celery -n 120   # embedded queue vs Celery + Redis, capacity
      grader bench --service --celery --deadline   # ... and the deadline simulated
    """
    from grader.engine.bench import format_table, run_bench

    if not (service and celery) and \
            click.get_current_context().get_parameter_source("rounds") is click.core.ParameterSource.COMMANDLINE:
        raise click.UsageError("--rounds goes with --service --celery")
    if deadline and not (service and celery):
        raise click.UsageError("--deadline goes with --service --celery")
    bank = obj.bank()
    if service:
        slug = _chosen(bank, slugs[:1] or ("none-grad-after-rebinding",))[0].slug
        log = lambda m: click.echo(m, err=True)  # noqa: E731
        try:
            if celery:
                from grader.queue import bench_celery

                figures = bench_celery.run_queue_bench(
                    bank, slug, submissions, jobs, unsafe=obj.unsafe, log=log, rounds=rounds,
                    pg_url=os.environ.get("GRADER_BENCH_PG_URL", bench_celery.PG_URL),
                    broker_url=os.environ.get("GRADER_BENCH_BROKER_URL", bench_celery.REDIS_URL),
                    deadline=deadline)
                table = bench_celery.format_queue_table(figures)
            else:
                from grader.queue.bench import format_service_table, run_service_bench

                figures = run_service_bench(bank, slug, submissions, jobs, unsafe=obj.unsafe, log=log)
                table = format_service_table(figures)
        except (ValueError, RuntimeError) as exc:
            raise click.ClickException(str(exc)) from None
        click.echo(json.dumps(figures, indent=2) if as_json else table)
        return
    if celery:
        raise click.UsageError("--celery goes with --service")
    chosen = [exercise.slug for exercise in _chosen(bank, slugs)]
    figures = run_bench(bank, chosen, submissions, jobs, unsafe=obj.unsafe,
                        log=lambda m: click.echo(m, err=True), mixed=mixed)
    click.echo(json.dumps(figures, indent=2) if as_json else format_table(figures))

