"""The marginal cost of one more submission in a single ``grader grade`` call.

A mixed set (half correct, half buggy variants of one exercise) is graded through the real
command line with ``n`` and with ``4n`` files, the two runs interleaved (the machine's speed
drifts); the difference divided by ``3n`` is what one more submission costs once the grader
is running, start-up excluded. (With ``2n`` the difference was within the noise of start-up.) The baseline is
``python -c "import torch"`` timed in the same run: the cheapest thing a grader that starts
a fresh Python per submission (Otter, nbgrader) could ever pay.
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from grader.engine.bank import Bank, Exercise

LARGE = 4  # the large run grades LARGE times as many files as the small one


def mixed_set(bank: Bank, exercise: Exercise, count: int) -> list[Path]:
    """``count`` files, alternately correct and buggy: the bank's variants when it has them
    (``tests/exercises/<slug>/``, first line ``# expect-lost: ...``), else solution and stub."""
    folder = bank.root / "tests" / "exercises" / exercise.slug.replace("-", "_")
    correct, buggy = [], []
    for path in sorted(folder.glob("*.py")) if folder.is_dir() else []:
        first = path.read_text(encoding="utf-8").split("\n", 1)[0]
        if first.startswith("# expect-lost:"):
            (buggy if first.split(":", 1)[1].strip() else correct).append(path)
    correct = correct or [exercise.solution]
    buggy = buggy or [exercise.stub_path]
    return [(correct if i % 2 == 0 else buggy)[(i // 2) % len(correct if i % 2 == 0 else buggy)]
            for i in range(count)]


def _timed_run(command: list[str], cwd: Path, env: dict[str, str]) -> float:
    started = time.perf_counter()
    completed = subprocess.run(command, cwd=cwd, env=env, stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE, text=True)
    elapsed = time.perf_counter() - started
    if completed.returncode not in (0, 1):  # 1: some file lost points, as half of them do
        raise RuntimeError(f"{' '.join(command[:6])} ... failed: {completed.stderr[-500:]}")
    return elapsed


def marginal_cost(bank: Bank, exercise: Exercise, jobs: int, files: int = 8,
                  unsafe: bool = False, repeat: int = 2) -> dict[str, Any]:
    env = {**os.environ, "GRADER_BANK": str(bank.root)}
    import_torch = statistics.median(
        _timed_run([sys.executable, "-c", "import torch"], bank.root, env) for _ in range(3))
    with tempfile.TemporaryDirectory(prefix="grader-mixed-") as scratch:
        copies = []
        for index, path in enumerate(mixed_set(bank, exercise, LARGE * files)):
            copy = Path(scratch) / f"{index:03d}_{path.name}"
            shutil.copyfile(path, copy)
            copies.append(str(copy))
        base = [sys.executable, "-m", "grader"] + (["--unsafe-sandbox"] if unsafe else [])
        base += ["grade", "-e", exercise.slug, "-j", str(jobs), "--json"]
        smalls, larges = [], []
        for _ in range(repeat):
            smalls.append(_timed_run(base + copies[:files], bank.root, env))
            larges.append(_timed_run(base + copies, bank.root, env))
        small, large = statistics.median(smalls), statistics.median(larges)
    marginal = max(large - small, 0.0) / ((LARGE - 1) * files)
    return {"files": LARGE * files, "jobs": jobs, "small_run_s": round(small, 3),
            "large_run_s": round(large, 3), "marginal_s": round(marginal, 4),
            "import_torch_s": round(import_torch, 3),
            "marginal_to_import_torch_ratio": round(marginal / import_torch, 3)}
