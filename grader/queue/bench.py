"""``grader bench --service``: the whole service under a burst, next to the bare engine.

In one run, on the same files (half correct, half buggy, from ``tests/exercises/``):

- **baseline**: ``grader grade -j N`` (the engine's worker pool, warmed up first), files/min;
- **service**: a fresh ``grader serve`` with 1 and with N workers; the burst is posted
  concurrently through the HTTP API; submissions per minute from the first POST to the last
  grade, p50/p95 time from POST to ``graded``, the POSTs' own p95, and the p95 of page views
  (exercise list, an exercise, a submission; signed in) while a second burst saturates
  every worker.

Throughput is reported as a ratio to the baseline: the service should add almost nothing.
"""

from __future__ import annotations

import concurrent.futures
import multiprocessing
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

from grader.engine.bank import Bank
from grader.ops.lifetime import die_with_parent
from grader.queue.bench_client import BurstClient

BENCH_EMAIL, BENCH_PASSWORD = "bench@example.com", "bench-password-1"


def variant_files(bank: Bank, slug: str, count: int) -> list[Path]:
    folder = bank.root / "tests" / "exercises" / slug.replace("-", "_")
    correct, buggy = sorted(folder.glob("correct_*.py")), sorted(folder.glob("buggy_*.py"))
    if not correct or not buggy:
        raise ValueError(f"no test variants for {slug} under {folder}")
    return [(correct if n % 2 else buggy)[(n // 2) % len(correct if n % 2 else buggy)] for n in range(count)]


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


def engine_baseline(bank: Bank, slug: str, files: list[Path], jobs: int, unsafe: bool) -> float:
    """Files per minute through ``grader grade -j jobs``'s worker pool, timed after warm-up."""
    from grader.engine import batch
    from grader.sandbox.client import SandboxSettings

    exercise = bank.exercise(slug)
    settings = SandboxSettings(unsafe=unsafe, forbidden_paths=(str(bank.solutions_dir), str(bank.exercises_dir)))
    with batch.worker_pool(exercise, settings, jobs) as grade_all:
        list(grade_all(files[: 2 * jobs]))
        started = time.perf_counter()
        list(grade_all(files))
        elapsed = time.perf_counter() - started
    return 60 * len(files) / elapsed


class _Server:
    """A fresh ``grader serve`` on a free port; with ``env`` (e.g. the Celery settings) and
    ``worker`` (the arguments of a ``grader worker`` started beside it) for other back ends."""

    def __init__(self, bank: Bank, workers: int, unsafe: bool, env: dict[str, str] | None = None,
                 worker: list[str] | None = None):
        self.instance = Path(tempfile.mkdtemp(prefix="grader-bench-")) / "instance"
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {**os.environ, "GRADER_INSTANCE_PATH": str(self.instance), "GRADER_RATELIMIT_ENABLED": "false",
                    "GRADER_DATABASE_URL": os.environ.get("GRADER_DATABASE_URL", ""), **(env or {})}
        args = [sys.executable, "-m", "grader", "--bank", str(bank.root)] + (["--unsafe-sandbox"] if unsafe else [])
        self.instance.mkdir(parents=True)
        self.log = open(self.instance.parent / "serve.out", "wb")
        # Each in a session of its own (stop() kills the whole group), and gone with this
        # process even if it is killed: a worker left behind would take a later bench's
        # messages from the broker.
        self.process = subprocess.Popen(args + ["serve", "--port", str(self.port), "--workers", str(workers)],
                                        env=self.env, stdout=self.log, stderr=subprocess.STDOUT,
                                        stdin=subprocess.DEVNULL, start_new_session=True,
                                        preexec_fn=die_with_parent)
        self.worker = None
        self._worker_args = args + ["worker", *worker] if worker is not None else None

    def wait_up(self, session: Any, timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if session.get(f"{self.url}/api/v1/health", timeout=2).ok:
                    self._start_worker()
                    return
            except Exception:  # noqa: BLE001 - not listening yet
                pass
            if self.process.poll() is not None:
                raise RuntimeError(f"grader serve exited; see {self.log.name}")
            time.sleep(0.2)
        raise RuntimeError("grader serve did not come up")

    def _start_worker(self) -> None:
        """Once the web process is up (it migrated the database, which a worker never does)."""
        if self._worker_args is not None and self.worker is None:
            self.worker = subprocess.Popen(self._worker_args, env=self.env, stdout=self.log,
                                           stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                           start_new_session=True, preexec_fn=die_with_parent)

    def stop(self) -> None:
        for process in (self.worker, self.process):
            if process is None:
                continue
            process.terminate()
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                pass
            try:
                os.killpg(process.pid, 9)  # whatever of its group is left (pool processes, fork servers)
            except ProcessLookupError:
                pass
        self.log.close()


def _bench_account(server: _Server) -> str:
    """Once the instance exists: a student account for page views and its API token."""
    from grader.config import Config
    from grader.store import accounts

    config = Config.load(server.env, instance_path=str(server.instance))
    database = _database(server)
    with database.unit_of_work() as session:
        user = accounts.create_user(session, BENCH_EMAIL, "Bench Student", "student", BENCH_PASSWORD)
        accounts.enrol(session, user, accounts.course(session, config.default_course))
        token = accounts.create_token(session, user, "bench")
    database.dispose()
    return token


def service_run(bank: Bank, slug: str, files: list[Path], workers: int, unsafe: bool,
                log: Callable[[str], None], server: "_Server | None" = None,
                pages: bool = True, rounds: int = 1, baseline: Callable[[], float] | None = None) -> dict[str, float]:
    """One back end under the burst. ``server``: one already started (another back end);
    ``pages``: also time page views under a second, saturating burst. ``rounds`` bursts, each
    between two runs of ``baseline`` (files/min) while the server idles, so each burst has its
    own ratio to the baseline measured right around it: the figures are the medians."""
    import requests

    server = server or _Server(bank, workers, unsafe)
    try:
        http = requests.Session()
        server.wait_up(http)
        token = _bench_account(server)
        database = _database(server)
        client = BurstClient(server.url, token, slug)
        post = client.post_file

        def post_all() -> list[tuple[int, float, float]]:
            bodies = [client.encode(path) for path in files]  # before the first POST: see bench_client
            with concurrent.futures.ThreadPoolExecutor(max_workers=8) as pool:
                return list(pool.map(client.post, bodies))

        def graded(ids: list[int]) -> dict[int, float]:
            """Submission id -> when it was graded (epoch s)."""
            return _wait_finished(database, ids)

        def burst() -> dict[str, float]:
            log(f"  burst of {len(files)} submissions, {workers} worker(s) ...")
            posted = post_all()
            finished = graded([sid for sid, _, _ in posted])
            first_post = min(started for _, started, _ in posted)
            latencies = [finished[sid] - started for sid, started, _ in posted if sid in finished]
            post_times = [seconds for _, _, seconds in posted]
            return {"graded": len(finished), "ids": [sid for sid, _, _ in posted],
                    "per_minute": 60 * len(finished) / (max(finished.values()) - first_post),
                    "latency_p50_s": statistics.median(latencies), "latency_p95_s": _percentile(latencies, 0.95),
                    "post_p50_ms": 1000 * statistics.median(post_times),
                    "post_p95_ms": 1000 * _percentile(post_times, 0.95)}

        graded([post(path)[0] for path in files[: 2 * workers]])  # warm every worker
        bursts, baselines = [], []
        for _ in range(rounds):
            if baseline is not None:
                baselines.append(baseline())
            bursts.append(burst())
        if baseline is not None:
            baselines.append(baseline())
        figures = _medians(bursts, workers, len(files))
        if baseline is not None:
            ratios = bracketed_ratios([b["per_minute"] for b in bursts], baselines)
            # A backlog: the last burst's submissions regraded at once, as `grader regrade`
            # queues them (no web, no client): the queue and the workers alone.
            log(f"  backlog: {len(files)} regrades queued at once ...")
            backlog = _drain_regrades(server, database, bursts[-1]["ids"])
            baselines.append(baseline())
            figures.update(vs_baseline=round(statistics.median(ratios), 2),
                           vs_baseline_rounds=[round(r, 2) for r in ratios],
                           backlog_per_minute=round(backlog, 1),
                           backlog_vs_baseline=round(bracketed_ratios([backlog], baselines[-2:])[0], 2),
                           baselines_per_minute=[round(b, 1) for b in baselines])
        figures["commit_to_claim_p50_ms"] = commit_to_claim(database, post, graded, files[:8])
        if not pages:
            return figures
        # The same burst again, and once it is posted a class reads pages while every worker
        # grades: page latency under saturated grading, kept apart from the throughput run.
        # The reader is a process of its own, so that this one's threads do not slow it down.
        log("  the same burst again, with page views while it is graded ...")
        again = post_all()
        context = multiprocessing.get_context("spawn")
        stop, results = context.Event(), context.Queue()
        viewer = context.Process(target=_view_pages, args=(server.url, results, stop), daemon=True)
        viewer.start()
        graded([sid for sid, _, _ in again])
        stop.set()
        page_times = results.get(timeout=60)
        viewer.join(timeout=30)
        return {**figures, "page_views": len(page_times),
                "page_p50_ms": round(1000 * statistics.median(page_times), 1) if page_times else None,
                "page_p95_ms": round(1000 * _percentile(page_times, 0.95), 1) if page_times else None}
    finally:
        server.stop()


def bracketed_ratios(rates: list[float], baselines: list[float]) -> list[float]:
    """Each burst's rate over the mean of the two baselines measured just before and just
    after it (``baselines`` has one more entry than ``rates``)."""
    if len(baselines) != len(rates) + 1:
        raise ValueError("one baseline before each burst and one after the last")
    return [rate / statistics.mean(baselines[i:i + 2]) for i, rate in enumerate(rates)]


def _medians(bursts: list[dict[str, float]], workers: int, submissions: int) -> dict[str, Any]:
    """One back end's figures: each the median over its bursts."""
    def median(key: str, digits: int) -> float:
        return round(statistics.median(b[key] for b in bursts), digits)

    return {"workers": workers, "submissions": submissions, "graded": min(b["graded"] for b in bursts),
            "rounds": len(bursts), "per_minute": median("per_minute", 1),
            "per_minute_rounds": [round(b["per_minute"], 1) for b in bursts],
            "latency_p50_s": median("latency_p50_s", 2), "latency_p95_s": median("latency_p95_s", 2),
            "post_p50_ms": median("post_p50_ms", 1), "post_p95_ms": median("post_p95_ms", 1)}


def commit_to_claim(database: Any, post: Callable, graded: Callable, files: list[Path]) -> float:
    """The queue's own cost per task, in ms: with one submission at a time on an idle queue,
    the median time from the run's insert (committed a moment later) to a worker's claim.
    The embedded queue polls every 0.25 s; Celery adds a broker round trip."""
    from sqlalchemy import select

    from grader.store.models import GradingRun

    waits = []
    for path in files:
        submission_id = post(path)[0]
        graded([submission_id])
        with database.reading() as session:
            queued, started = session.execute(select(GradingRun.queued_at, GradingRun.started_at).where(
                GradingRun.submission_id == submission_id).order_by(GradingRun.id)).first()
        waits.append((started - queued).total_seconds())
    return round(1000 * statistics.median(waits), 1)


def _drain_regrades(server: _Server, database: Any, submission_ids: list[int]) -> float:
    """Regrade these submissions in one go (committed, then published, as `grader regrade`
    does); regrades per minute from the commit to the last grade."""
    from sqlalchemy import select
    from sqlalchemy.orm import selectinload

    from grader.config import Config
    from grader.queue.publish import publisher_for
    from grader.store import regrades
    from grader.store.models import Submission

    with database.unit_of_work() as session:
        chosen = session.scalars(select(Submission).options(selectinload(Submission.runs))
                                 .where(Submission.id.in_(submission_ids)).order_by(Submission.id))
        run_ids = regrades.request_regrade(session, list(chosen), None, "bench backlog").queued
    started = time.time()
    publisher = publisher_for(Config.load(server.env, instance_path=str(server.instance)))
    publisher.publish_runs(run_ids, regrade=True)
    done = _wait_finished(database, run_ids, by_run=True)
    if hasattr(publisher, "close"):
        publisher.close()
    return 60 * len(done) / (max(done.values()) - started)


def _wait_finished(database: Any, ids: list[int], by_run: bool = False, timeout: float = 900) -> dict[int, float]:
    """Id -> when its run was graded (epoch s), once all are (or at the timeout). Read from
    the database, so that watching costs the web process nothing; while waiting, only a
    count each second (the watcher shares the cores with the service it measures), and the
    times once at the end (they are stored, so the polling rate does not change them)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and _count_finished(database, ids, by_run) < len(ids):
        time.sleep(0.2 if len(ids) <= 8 else 1.0)
    return _finished(database, ids, by_run)


def _count_finished(database: Any, ids: list[int], by_run: bool) -> int:
    from sqlalchemy import func, select

    key, finished = _finished_among(ids, by_run)
    with database.reading() as session:
        return session.scalar(select(func.count(func.distinct(key))).where(finished))


def _finished_among(ids: list[int], by_run: bool) -> tuple[Any, Any]:
    """The key column (run id with ``by_run``, else submission id) and the condition for the
    finished runs among ``ids``."""
    from sqlalchemy import and_

    from grader.store.models import GradingRun

    key = GradingRun.id if by_run else GradingRun.submission_id
    return key, and_(key.in_(ids), GradingRun.status.in_(("graded", "failed")))


def _database(server: _Server) -> Any:
    from grader.config import Config
    from grader.store.db import Database

    return Database(Config.load(server.env, instance_path=str(server.instance)).sqlalchemy_url)


def _finished(database: Any, ids: list[int], by_run: bool = False) -> dict[int, float]:
    """Submission id (run id with ``by_run``) -> when its run finished, for the finished ones."""
    from sqlalchemy import select

    from grader.store.models import GradingRun

    key, finished = _finished_among(ids, by_run)
    with database.reading() as session:
        rows = session.execute(select(key, GradingRun.finished_at).where(finished))
        return {one: at.timestamp() for one, at in rows}


def _signed_in(url: str) -> Any:
    import re

    import requests

    browser = requests.Session()
    page = browser.get(f"{url}/login", timeout=10)
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page.text).group(1)
    browser.post(f"{url}/login", data={"email": BENCH_EMAIL, "password": BENCH_PASSWORD, "csrf_token": token},
                 timeout=10).raise_for_status()
    return browser


def _view_pages(url: str, results: Any, stop: Any) -> None:
    """A signed-in student reading pages until ``stop``; puts the list of view times."""
    browser = _signed_in(url)
    pages = [f"{url}/", f"{url}/exercises/none-grad-after-rebinding", f"{url}/submissions/1"]
    times, n = [], 0
    while not stop.is_set():
        started = time.perf_counter()
        browser.get(pages[n % len(pages)], timeout=30)
        times.append(time.perf_counter() - started)
        n += 1
        stop.wait(0.2)  # a class reading pages: about five views a second
    results.put(times)


def run_service_bench(bank: Bank, slug: str, submissions: int, jobs: int, unsafe: bool = False,
                      log: Callable[[str], None] = lambda m: None) -> dict[str, Any]:
    files = variant_files(bank, slug, submissions)
    # The baseline is measured before and after the service runs, and averaged, so that a
    # drift of the machine's speed during the run does not favour either side.
    log(f"baseline: grader grade -j {jobs} on {len(files)} files ...")
    baselines = [engine_baseline(bank, slug, files, jobs, unsafe)]
    runs = []
    for workers in sorted({1, jobs}):
        log(f"service with {workers} worker(s):")
        runs.append(service_run(bank, slug, files, workers, unsafe, log))
    log("baseline again ...")
    baselines.append(engine_baseline(bank, slug, files, jobs, unsafe))
    baseline = statistics.mean(baselines)
    for run in runs:
        run["vs_baseline"] = round(run["per_minute"] / baseline, 2) if run["workers"] == jobs else None
    return {"exercise": slug, "submissions": submissions, "jobs": jobs,
            "baseline_grade_jobs_per_minute": round(baseline, 1),
            "baseline_runs_per_minute": [round(b, 1) for b in baselines], "service": runs}


def format_service_table(figures: dict[str, Any]) -> str:
    lines = [f"{figures['exercise']}: {figures['submissions']} submissions (half correct, half buggy)",
             f"baseline `grader grade -j {figures['jobs']}`: {figures['baseline_grade_jobs_per_minute']:.0f}/min",
             f"{'workers':>7} {'per min':>8} {'vs baseline':>11} {'POST->graded p50':>17} {'p95':>6} "
             f"{'POST p95':>9} {'page p50':>9} {'page p95':>9}"]
    for run in figures["service"]:
        ratio = f"{run['vs_baseline']:.2f}x" if run["vs_baseline"] is not None else "–"
        lines.append(f"{run['workers']:>7} {run['per_minute']:>8.0f} {ratio:>11} {run['latency_p50_s']:>15.2f} s "
                     f"{run['latency_p95_s']:>4.1f} s {run['post_p95_ms']:>6.0f} ms {run['page_p50_ms']:>6.1f} ms "
                     f"{run['page_p95_ms']:>6.1f} ms")
    return "\n".join(lines)
