"""``grader bench``: what grading costs, next to what it cannot cost less than.

For each exercise, in one run:

- **lower bound**: the exercise's checks *in this process*, with no sandbox, no wire and no
  fork (``LocalSubmission``), against the reference solution (passing) and against the stub
  (failing: its bug makes checks fail, so this includes hypothesis' shrinking);
- **sandboxed latency**: the same two files graded through the warm sandbox, exactly as
  ``grader grade`` does (static checks, fork, confinement, import, every call over the wire,
  the autograd graph of failing gradient-flow checks);
- **throughput**: submissions per second with 1 worker and with ``jobs`` workers, each
  worker a trusted process with its own fork server, timed after warm-up.

With ``mixed``, also the marginal cost of one more submission in a single ``grader grade``
call over a mixed set (half of it buggy), next to ``python -c "import torch"`` timed in the
same run (see :mod:`grader.engine.bench_mixed`).

Figures are reported as ratios to a baseline measured in the same run, so they compare
across machines.
"""

from __future__ import annotations

import statistics
import time
from typing import Any, Callable

from grader.engine import batch
from grader.engine.bank import Bank, Exercise
from grader.engine.grading import LocalSubmission, forbidden_api_result, grade_submission
from grader.checks import Invariant
from grader.engine.runner import Observation, run_check
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


def grade_in_process(exercise: Exercise, source: str) -> float:
    """Every check against ``source`` in this process, invariants watched as in the sandbox;
    returns the score."""
    static_points = forbidden_api_result(exercise, source).points if exercise.forbidden else 0.0
    sub = LocalSubmission(exercise, source)
    checks = exercise.checks
    observation = Observation(checks)
    results = [run_check(check, sub, exercise.examples_for(check), observation) for check in checks]
    return static_points + sum(observation.verdict(c, r).points if isinstance(c, Invariant) else r.points
                               for c, r in zip(checks, results))


def lower_bound(exercise: Exercise, repeat: int, path=None) -> list[float]:
    """In-process grading time of ``path`` (default: the reference solution, which must pass)."""
    passing = path is None
    source = (exercise.solution if passing else path).read_text(encoding="utf-8")

    def grade() -> None:
        score = grade_in_process(exercise, source)
        assert not passing or score == exercise.points, f"{exercise.slug}: solution scores {score} in process"

    grade()  # warm-up
    return _timed(grade, repeat)


def sandboxed(exercise: Exercise, sandbox: Sandbox, repeat: int, path=None) -> list[float]:
    """Sandboxed grading time of ``path`` (default: the reference solution, which must pass)."""
    passing = path is None
    submission = read_submission(exercise.solution if passing else path)

    def grade() -> None:
        result = grade_submission(exercise, submission, sandbox)
        assert not passing or result.score == exercise.points, f"{exercise.slug}: solution scored {result.score}"
        assert passing or result.score < exercise.points, f"{exercise.slug}: {path.name} passes"

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
              log: Callable[[str], None] = lambda m: None, mixed: bool = False) -> dict[str, Any]:
    settings = SandboxSettings(unsafe=unsafe,
                               forbidden_paths=(str(bank.solutions_dir), str(bank.exercises_dir)))
    figures: dict[str, Any] = {"submissions": submissions, "jobs": jobs, "exercises": {}}
    started = time.perf_counter()
    with Sandbox(settings) as sandbox:
        figures["fork_server_warmup_s"] = round(sandbox.warmup_seconds, 3)
        for slug in slugs:
            exercise = bank.exercise(slug)
            log(f"{slug}: in-process lower bounds (passing, failing) ...")
            base = lower_bound(exercise, submissions)
            base_failing = lower_bound(exercise, submissions, exercise.stub_path)
            log(f"{slug}: sandboxed (passing, failing) ...")
            boxed = sandboxed(exercise, sandbox, submissions)
            boxed_failing = sandboxed(exercise, sandbox, submissions, exercise.stub_path)
            fixed = child_round_trip(exercise, sandbox, submissions)
            log(f"{slug}: throughput with 1 and {jobs} worker(s) ...")
            one = throughput(exercise, settings, submissions, 1)
            many = throughput(exercise, settings, submissions, jobs) if jobs > 1 else one
            base_p50, boxed_p50 = statistics.median(base), statistics.median(boxed)
            failing_p50 = statistics.median(boxed_failing)
            figures["exercises"][slug] = {
                "lower_bound_p50_s": round(base_p50, 4),
                "sandboxed_p50_s": round(boxed_p50, 4),
                "sandboxed_p95_s": round(_percentile(boxed, 0.95), 4),
                "sandbox_overhead_ratio": round(boxed_p50 / base_p50 - 1, 3),
                "failing_lower_bound_p50_s": round(statistics.median(base_failing), 4),
                "failing_sandboxed_p50_s": round(failing_p50, 4),
                "failing_to_passing_ratio": round(failing_p50 / boxed_p50, 3),
                "child_round_trip_p50_s": round(statistics.median(fixed), 4),
                "throughput_1_worker_per_s": round(one, 2),
                f"throughput_{jobs}_workers_per_s": round(many, 2),
                "parallel_speedup_ratio": round(many / one, 2),
            }
            if mixed:
                from grader.engine.bench_mixed import marginal_cost

                log(f"{slug}: mixed set through `grader grade -j {jobs}` ...")
                figures["exercises"][slug]["mixed"] = marginal_cost(bank, exercise, jobs, unsafe=unsafe)
    figures["total_s"] = round(time.perf_counter() - started, 1)
    return figures


def format_table(figures: dict[str, Any]) -> str:
    jobs = figures["jobs"]
    head = (f"{'exercise':<26} {'pass: in-proc':>13} {'sandbox':>8} {'fail: in-proc':>13} {'sandbox':>8} "
            f"{'fail/pass':>9} {'child':>6} {'1 worker':>9} {f'{jobs} workers':>10}")
    lines = [f"{figures['submissions']} gradings per figure; fork server warm-up "
             f"{figures['fork_server_warmup_s']:.2f} s", head, "-" * len(head)]
    for slug, f in figures["exercises"].items():
        lines.append(
            f"{slug:<26} {f['lower_bound_p50_s'] * 1000:>10.0f} ms {f['sandboxed_p50_s'] * 1000:>5.0f} ms "
            f"{f['failing_lower_bound_p50_s'] * 1000:>10.0f} ms {f['failing_sandboxed_p50_s'] * 1000:>5.0f} ms "
            f"{f['failing_to_passing_ratio']:>8.2f}x {f['child_round_trip_p50_s'] * 1000:>3.0f} ms "
            f"{f['throughput_1_worker_per_s']:>7.2f}/s {f[f'throughput_{jobs}_workers_per_s']:>8.2f}/s")
    mixed = {slug: f["mixed"] for slug, f in figures["exercises"].items() if "mixed" in f}
    if mixed:
        lines += ["", "Mixed set (half buggy) in one `grader grade` call: marginal cost per submission"]
        for slug, m in mixed.items():
            lines.append(f"{slug:<26} {m['marginal_s'] * 1000:>6.0f} ms = {m['marginal_to_import_torch_ratio']:.3f}x "
                         f"`import torch` ({m['import_torch_s']:.2f} s); {m['files']} files, -j {m['jobs']}")
    lines.append(f"(p50 figures; total {figures['total_s']} s)")
    return "\n".join(lines)
