"""``grader bench``: what grading costs, next to what it cannot cost less than.

For each exercise, in one run:

- **lower bound**: the exercise's checks against the reference solution *in this process*,
  with no sandbox, no wire and no fork (``LocalSubmission``);
- **sandboxed latency**: the reference solution graded through the warm sandbox, exactly as
  ``grader grade`` does (static checks, fork, confinement, import, every call over the wire);
- **throughput**: submissions per second with 1 worker and with ``jobs`` workers, each
  worker a trusted process with its own fork server, timed after warm-up.

Figures are reported as ratios to the lower bound, so they compare across machines.
"""

from __future__ import annotations

import statistics
import time
from typing import Any, Callable

from grader.engine import batch
from grader.engine.bank import Bank, Exercise
from grader.engine.grading import LocalSubmission, grade_submission
from grader.engine.runner import run_check
from grader.sandbox.client import LoadRequest, Sandbox, SandboxSettings
from grader.engine.source import read_submission


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return ordered[index]


def _timed(action: Callable[[], Any], repeat: int) -> list[float]:
    durations = []
    for _ in range(repeat):
        started = time.perf_counter()
        action()
        durations.append(time.perf_counter() - started)
    return durations


def lower_bound(exercise: Exercise, repeat: int) -> list[float]:
    source = exercise.solution.read_text(encoding="utf-8")

    def grade_in_process() -> None:
        sub = LocalSubmission(exercise, source)
        for check in exercise.checks:
            result = run_check(check, sub, exercise.examples_for(check))
            assert result.passed, f"{exercise.slug}: {check.name} fails in process: {result.message}"

    grade_in_process()  # warm-up
    return _timed(grade_in_process, repeat)


def sandboxed(exercise: Exercise, sandbox: Sandbox, repeat: int) -> list[float]:
    submission = read_submission(exercise.solution)

    def grade() -> None:
        result = grade_submission(exercise, submission, sandbox)
        assert result.score == exercise.points, f"{exercise.slug}: solution scored {result.score}"

    grade()  # warm-up
    return _timed(grade, repeat)


def child_round_trip(exercise: Exercise, sandbox: Sandbox, repeat: int) -> list[float]:
    """Fork + confine + import a trivial submission + close: the fixed cost per submission."""
    load = LoadRequest(driver_source="", source="x = 1\n", filename="empty.py", entry_points={})
    return _timed(lambda: sandbox.open(load, 10.0).close(), repeat)


def throughput(exercise: Exercise, settings: SandboxSettings, submissions: int, jobs: int) -> float:
    with batch.worker_pool(exercise, settings, jobs) as grade_all:
        list(grade_all([exercise.solution] * (2 * jobs)))  # start and warm every worker
        started = time.perf_counter()
        results = list(grade_all([exercise.solution] * submissions))
        elapsed = time.perf_counter() - started
    assert all(r.score == exercise.points for r in results)
    return submissions / elapsed


def run_bench(bank: Bank, slugs: list[str], submissions: int, jobs: int, unsafe: bool = False,
              log: Callable[[str], None] = lambda m: None) -> dict[str, Any]:
    settings = SandboxSettings(unsafe=unsafe,
                               forbidden_paths=(str(bank.solutions_dir), str(bank.exercises_dir)))
    figures: dict[str, Any] = {"submissions": submissions, "jobs": jobs, "exercises": {}}
    started = time.perf_counter()
    with Sandbox(settings) as sandbox:
        figures["fork_server_warmup_s"] = round(sandbox.warmup_seconds, 3)
        for slug in slugs:
            exercise = bank.exercise(slug)
            log(f"{slug}: in-process lower bound ...")
            base = lower_bound(exercise, submissions)
            log(f"{slug}: sandboxed ...")
            boxed = sandboxed(exercise, sandbox, submissions)
            fixed = child_round_trip(exercise, sandbox, submissions)
            log(f"{slug}: throughput with 1 and {jobs} worker(s) ...")
            one = throughput(exercise, settings, submissions, 1)
            many = throughput(exercise, settings, submissions, jobs) if jobs > 1 else one
            base_p50, boxed_p50 = statistics.median(base), statistics.median(boxed)
            figures["exercises"][slug] = {
                "lower_bound_p50_s": round(base_p50, 4),
                "sandboxed_p50_s": round(boxed_p50, 4),
                "sandboxed_p95_s": round(_percentile(boxed, 0.95), 4),
                "sandbox_overhead_ratio": round(boxed_p50 / base_p50 - 1, 3),
                "child_round_trip_p50_s": round(statistics.median(fixed), 4),
                "throughput_1_worker_per_s": round(one, 2),
                f"throughput_{jobs}_workers_per_s": round(many, 2),
                "parallel_speedup_ratio": round(many / one, 2),
            }
    figures["total_s"] = round(time.perf_counter() - started, 1)
    return figures


def format_table(figures: dict[str, Any]) -> str:
    jobs = figures["jobs"]
    head = (f"{'exercise':<28} {'in-process p50':>14} {'sandbox p50':>11} {'p95':>7} "
            f"{'overhead':>8} {'child':>7} {'1 worker':>9} {f'{jobs} workers':>10} {'speedup':>7}")
    lines = [f"{figures['submissions']} submissions per exercise; fork server warm-up "
             f"{figures['fork_server_warmup_s']:.2f} s", head, "-" * len(head)]
    for slug, f in figures["exercises"].items():
        lines.append(
            f"{slug:<28} {f['lower_bound_p50_s'] * 1000:>11.0f} ms {f['sandboxed_p50_s'] * 1000:>8.0f} ms "
            f"{f['sandboxed_p95_s'] * 1000:>4.0f} ms {f['sandbox_overhead_ratio']:>+8.1%} "
            f"{f['child_round_trip_p50_s'] * 1000:>4.0f} ms {f['throughput_1_worker_per_s']:>7.2f}/s "
            f"{f[f'throughput_{jobs}_workers_per_s']:>8.2f}/s {f['parallel_speedup_ratio']:>6.2f}x")
    lines.append(f"(total {figures['total_s']} s)")
    return "\n".join(lines)
