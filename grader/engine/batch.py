"""Grading many files: one warm sandbox per worker, results in input order.

With ``jobs > 1`` each worker is a separate *trusted* process (started with ``spawn``, so it
never inherits a forked torch) that owns its own fork server. Workers hand back results as
plain dicts.
"""

from __future__ import annotations

import contextlib
import multiprocessing
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Callable, Iterator

from grader.engine.bank import Exercise
from grader.engine.grading import grade_submission
from grader.engine.results import GradeResult
from grader.sandbox.client import Sandbox, SandboxSettings
from grader.sandbox.launcher import LaunchedZygote
from grader.engine.source import SubmissionError, read_submission

_worker: dict = {}  # per worker process: its exercise and its sandbox


def grade_path(exercise: Exercise, path: Path, sandbox: Sandbox) -> GradeResult:
    try:
        submission = read_submission(path)
    except SubmissionError as exc:
        return GradeResult.ungradable(str(path), exercise.slug, exercise.points, exc.text)
    return grade_submission(exercise, submission, sandbox, file=str(path))


def grade_files(exercise: Exercise, paths: list[Path], settings: SandboxSettings, jobs: int = 1,
                on_result: Callable[[GradeResult], None] = lambda r: None,
                launched: LaunchedZygote | None = None) -> list[GradeResult]:
    """``launched``: a fork server the caller already started (used when ``jobs`` is 1)."""
    results: list[GradeResult] = []
    if jobs <= 1 or len(paths) <= 1:
        with Sandbox(settings, launched=launched) as sandbox:
            for path in paths:
                results.append(grade_path(exercise, path, sandbox))
                on_result(results[-1])
        return results
    with worker_pool(exercise, settings, min(jobs, len(paths))) as grade_all:
        for result in grade_all(paths):
            results.append(result)
            on_result(result)
    return results


@contextlib.contextmanager
def worker_pool(exercise: Exercise, settings: SandboxSettings,
                jobs: int) -> Iterator[Callable[[list[Path]], Iterator[GradeResult]]]:
    """``jobs`` worker processes, each with its own fork server. Yields a function that grades
    a list of paths across them and returns the results in input order, as they complete."""
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=jobs, mp_context=context, initializer=_start_worker,
                             initargs=(str(exercise.folder.parent.parent), exercise.slug, settings)) as pool:
        yield lambda paths: (GradeResult.from_dict(data)
                             for data in pool.map(_grade_in_worker, [str(p) for p in paths]))


def _start_worker(bank_root: str, slug: str, settings: SandboxSettings) -> None:
    from grader.engine.bank import Bank

    _worker["exercise"] = Bank(Path(bank_root)).exercise(slug)
    _worker["sandbox"] = Sandbox(settings).start()


def _grade_in_worker(path: str) -> dict:
    return grade_path(_worker["exercise"], Path(path), _worker["sandbox"]).to_dict()
