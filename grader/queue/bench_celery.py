"""``grader bench --service --celery``: the same burst through the embedded queue and through
Celery, and what a deadline burst needs.

In one run, on the same files (half correct, half buggy): the embedded queue (``grader
serve --workers N``, SQLite); Celery (``grader serve`` for the web, ``grader worker -c W``
for W = 1 and N, on PostgreSQL and a Redis broker). Each back end: submissions per minute from the first POST to the last grade,
p50/p95 POST to graded, and the queue's own cost per task (commit to claim on an idle queue).
The N-worker back ends are compared with ``grader grade -j N`` on the same files, measured
before and after each of their bursts (see ``run_queue_bench``), and then drain a backlog:
the last burst regraded at once (``grader regrade``'s path, no web and no client), which is
the queue and its workers alone.

Capacity: from the 1-worker Celery rate, the worker processes (one per core) that grade a
1,000-submission burst within 5 minutes; the N-worker run checks that the rate really grows
with the worker count (its measured time next to the time the 1-worker rate predicts).
``--deadline`` then simulates the deadline itself: that many worker processes take the
1,000 submissions posted at once through the API (on a machine with fewer cores than that,
one process per core takes the share of the burst those processes would carry), and the run
says whether everyone was scored within the 5 minutes.
"""

from __future__ import annotations

import math
import statistics
import uuid
from typing import Any, Callable

from grader.engine.bank import Bank
from grader.queue.bench import _Server, engine_baseline, service_run, variant_files

PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
REDIS_URL = "redis://127.0.0.1:6379/14"
DEADLINE_BURST, DEADLINE_MINUTES = 1000, 5.0


def _schema(pg_url: str) -> tuple[str, Callable[[], None]]:
    """A fresh PostgreSQL schema (its URL) and how to drop it."""
    import sqlalchemy

    name = f"bench_{uuid.uuid4().hex[:10]}"
    admin = sqlalchemy.create_engine(pg_url)
    with admin.begin() as connection:
        connection.exec_driver_sql(f'CREATE SCHEMA "{name}"')

    def drop() -> None:
        with admin.begin() as connection:
            connection.exec_driver_sql(f'DROP SCHEMA "{name}" CASCADE')
        admin.dispose()

    return f"{pg_url}?options=-csearch_path%3D{name}", drop


def celery_run(bank: Bank, slug: str, files: list, workers: int, unsafe: bool, pg_url: str, broker_url: str,
               log: Callable[[str], None], rounds: int = 1,
               baseline: Callable[[], float] | None = None) -> dict[str, Any]:
    import redis

    redis.Redis.from_url(broker_url).flushdb()  # no message of an earlier run
    url, drop = _schema(pg_url)
    env = {"GRADER_QUEUE": "celery", "GRADER_BROKER_URL": broker_url, "GRADER_DATABASE_URL": url}
    server = _Server(bank, 0, unsafe, env=env, worker=["-c", str(workers), "--name", f"bench-{uuid.uuid4().hex[:6]}"])
    try:
        return {"queue": "celery+redis", **service_run(bank, slug, files, workers, unsafe, log, server=server,
                                                       pages=False, rounds=rounds, baseline=baseline)}
    finally:
        server.stop()
        drop()


def capacity(one_worker_per_minute: float, measured: dict[str, Any]) -> dict[str, Any]:
    """Worker processes for a deadline burst, from the 1-worker rate; and the N-worker run's
    measured minutes next to what that rate predicts for N workers."""
    needed = math.ceil(DEADLINE_BURST / DEADLINE_MINUTES / one_worker_per_minute)
    workers, count = measured["workers"], measured["graded"]
    predicted = count / (workers * one_worker_per_minute)
    actual = count / measured["per_minute"]
    return {"burst": DEADLINE_BURST, "minutes": DEADLINE_MINUTES,
            "one_worker_per_minute": one_worker_per_minute, "worker_processes_needed": needed,
            "check_workers": workers, "check_predicted_minutes": round(predicted, 2),
            "check_measured_minutes": round(actual, 2), "check_scaling_efficiency": round(predicted / actual, 2)}


def deadline_plan(needed: int, cores: int) -> tuple[int, int]:
    """The deadline simulation this machine can run: (worker processes, submissions). All
    ``needed`` workers and the whole burst if the cores suffice; otherwise one worker per
    core and the share of the burst that many of the ``needed`` workers would carry."""
    workers = max(1, min(needed, cores))
    return workers, math.ceil(DEADLINE_BURST * workers / max(needed, 1))


def deadline_run(bank: Bank, slug: str, needed: int, cores: int, unsafe: bool, pg_url: str, broker_url: str,
                 log: Callable[[str], None]) -> dict[str, Any]:
    """The deadline burst of ``deadline_plan`` posted at once through the API of a fresh
    Celery deployment: whether every submission was scored within ``DEADLINE_MINUTES``."""
    workers, count = deadline_plan(needed, cores)
    log(f"deadline: {count} submissions at once, {_processes(workers)} ...")
    run = celery_run(bank, slug, variant_files(bank, slug, count), workers, unsafe, pg_url, broker_url, log)
    minutes = run["graded"] / run["per_minute"]
    return {"workers": workers, "submissions": count, "share_of_burst": round(count / DEADLINE_BURST, 2),
            "graded": run["graded"], "minutes": round(minutes, 2), "per_minute": round(run["per_minute"], 1),
            "latency_p50_s": round(run["latency_p50_s"], 1), "latency_p95_s": round(run["latency_p95_s"], 1),
            "holds": run["graded"] == count and minutes <= DEADLINE_MINUTES}


def run_queue_bench(bank: Bank, slug: str, submissions: int, jobs: int, unsafe: bool = False,
                    pg_url: str = PG_URL, broker_url: str = REDIS_URL, rounds: int = 3,
                    log: Callable[[str], None] = lambda m: None, deadline: bool = False) -> dict[str, Any]:
    """Each N-worker back end grades ``rounds`` bursts, each between two baselines measured
    while that back end idles, and its ratio is the median of the bursts' ratios: this
    machine's speed drifts by 10-20% within minutes, so one baseline minutes away from a burst
    would decide the ratio more than the back end does."""
    files = variant_files(bank, slug, submissions)

    def baseline() -> float:
        log(f"  baseline: grader grade -j {jobs} on {len(files)} files ...")
        return engine_baseline(bank, slug, files, jobs, unsafe)

    log(f"embedded queue, {jobs} worker(s):")
    runs = [{"queue": "embedded", **service_run(bank, slug, files, jobs, unsafe, log, pages=False,
                                                rounds=rounds, baseline=baseline)}]
    log(f"celery + redis, {jobs} worker process(es):")
    runs.append(celery_run(bank, slug, files, jobs, unsafe, pg_url, broker_url, log, rounds=rounds, baseline=baseline))
    if jobs != 1:
        log("celery + redis, 1 worker process:")
        runs.insert(1, {**celery_run(bank, slug, files, 1, unsafe, pg_url, broker_url, log), "vs_baseline": None})
    baselines = [b for run in runs for b in run.get("baselines_per_minute", [])]
    celery = {run["workers"]: run for run in runs if run["queue"] != "embedded"}
    figures = {"exercise": slug, "submissions": submissions, "jobs": jobs, "rounds": rounds,
               "baseline_grade_jobs_per_minute": round(statistics.median(baselines), 1),
               "baseline_runs_per_minute": baselines, "runs": runs,
               "capacity": capacity(celery[1]["per_minute"], celery[max(celery)])}
    if deadline:
        figures["deadline"] = deadline_run(bank, slug, figures["capacity"]["worker_processes_needed"], jobs, unsafe,
                                           pg_url, broker_url, log)
    return figures


def format_queue_table(figures: dict[str, Any]) -> str:
    lines = [f"{figures['exercise']}: {figures['submissions']} submissions (half correct, half buggy)",
             f"baseline `grader grade -j {figures['jobs']}`: {figures['baseline_grade_jobs_per_minute']:.0f}/min"
             + (f" (median of {len(figures['baseline_runs_per_minute'])} runs, "
                f"{min(figures['baseline_runs_per_minute']):.0f}-{max(figures['baseline_runs_per_minute']):.0f})"
                if figures.get("baseline_runs_per_minute") else ""),
             f"{'queue':>13} {'workers':>7} {'per min':>8} {'vs baseline':>11} {'POST->graded p50':>17} "
             f"{'p95':>6} {'commit->claim':>13} {'backlog':>8}  each burst vs its baselines"]
    for run in figures["runs"]:
        ratio = f"{run['vs_baseline']:.2f}x" if run["vs_baseline"] is not None else "-"
        backlog = f"{run['backlog_vs_baseline']:.2f}x" if run.get("backlog_vs_baseline") else "-"
        lines.append(f"{run['queue']:>13} {run['workers']:>7} {run['per_minute']:>8.0f} {ratio:>11} "
                     f"{run['latency_p50_s']:>15.2f} s {run['latency_p95_s']:>4.1f} s "
                     f"{run['commit_to_claim_p50_ms']:>10.0f} ms {backlog:>8}  "
                     + " ".join(f"{r:.2f}x" for r in run.get("vs_baseline_rounds", [])))
    c = figures["capacity"]
    lines.append(f"a {c['burst']}-submission burst within {c['minutes']:g} min needs "
                 f"{_processes(c['worker_processes_needed'])} (cores) at {c['one_worker_per_minute']:.0f}/min each; "
                 f"check with "
                 f"{c['check_workers']}: predicted {c['check_predicted_minutes']} min, measured "
                 f"{c['check_measured_minutes']} min (scaling {c['check_scaling_efficiency']:.2f})")
    d = figures.get("deadline")
    if d:
        share = "the whole burst" if d["share_of_burst"] >= 1 else f"{d['share_of_burst']:.0%} of the burst"
        lines.append(f"deadline simulation: {d['submissions']} submissions ({share}) posted at once to "
                     f"{_processes(d['workers'])}: {d['graded']} scored in {d['minutes']} min "
                     f"(p95 {d['latency_p95_s']} s): {'holds' if d['holds'] else 'DOES NOT hold'} "
                     f"(within {DEADLINE_MINUTES:g} min)")
    return "\n".join(lines)


def _processes(count: int) -> str:
    return f"{count} worker process" + ("" if count == 1 else "es")
