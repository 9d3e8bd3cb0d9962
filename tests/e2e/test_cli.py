"""The ``grader`` command as an instructor runs it: real processes, real sandbox, real files."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from nbformat import v4

ROOT = Path(__file__).resolve().parents[2]
SLUG = "none-grad-after-rebinding"
SLUGS = sorted(p.parent.name for p in (ROOT / "exercises").glob("*/exercise.toml"))
VERDICTS = {"passed", "failed", "error", "timeout", "memory", "crashed", "invalid-reply"}


def grader(*args: str, cwd: Path = ROOT, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "grader", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=600)


def plotting_notebook(path: Path) -> Path:
    """The reference solution as a student notebook: magics, a shell line, a loss plot."""
    solution = (ROOT / "solutions" / f"{SLUG}.py").read_text()
    code = solution.split('if __name__ == "__main__":')[0]
    notebook = v4.new_notebook()
    notebook.cells = [
        v4.new_markdown_cell("# My fix"),
        v4.new_code_cell("%matplotlib inline\n!pip install torch\nimport matplotlib.pyplot as plt"),
        v4.new_code_cell(code),
        v4.new_code_cell(
            "torch.manual_seed(0)\nx = torch.rand(20, 1)\ny = 3 * x + 1\nlosses = []\n"
            "for steps in range(0, 50, 10):\n"
            "    w, b = fit(x, y, torch.zeros(1), torch.zeros(1), 0.1, steps)\n"
            "    losses.append(((w * x + b - y) ** 2).mean().item())\n"
            "plt.plot(losses)\nplt.savefig('loss.png')\nplt.show()\ntorch.tensor?"),
    ]
    path.write_text(nbformat.writes(notebook))
    return path


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    """One `grader grade --json` run over a mix of files, shared by the tests below."""
    tmp = tmp_path_factory.mktemp("submissions")
    broken = tmp / "broken.ipynb"
    broken.write_text("{not a notebook")
    files = [ROOT / "solutions" / f"{SLUG}.py", ROOT / "exercises" / SLUG / "stub.py",
             plotting_notebook(tmp / "plots.ipynb"), broken, tmp / "missing.py"]
    run = grader("grade", *map(str, files), "--exercise", SLUG, "--json")
    return files, run


def test_grade_json_prints_exactly_one_object_per_file(graded):
    files, run = graded
    assert run.returncode == 0, run.stderr
    lines = run.stdout.strip().splitlines()
    assert len(lines) == len(files)
    for line, path in zip(lines, files):
        result = json.loads(line)
        assert result["file"] == str(path) and result["exercise"] == SLUG
        assert {"score", "max_score", "checks"} <= set(result)
        for check in result["checks"]:
            assert {"name", "verdict", "points", "max_points", "message"} <= set(check)
            assert check["verdict"] in VERDICTS


def test_grade_scores_solution_stub_and_a_plotting_notebook(graded):
    _, run = graded
    solution, stub, notebook, broken, missing = map(json.loads, run.stdout.strip().splitlines())
    assert solution["score"] == solution["max_score"] == 10
    assert stub["score"] < 10
    assert notebook["score"] == 10, notebook
    assert any("not run" in note for note in notebook["notes"])


def test_files_that_cannot_be_graded_still_get_their_object_with_a_reason(graded):
    _, run = graded
    *_, broken, missing = map(json.loads, run.stdout.strip().splitlines())
    assert broken["score"] == 0 and "not a valid Jupyter notebook" in broken["error"]
    assert missing["score"] == 0 and "does not exist" in missing["error"]
    assert "Traceback" not in run.stderr


def test_grade_shows_progress_on_stderr_and_keeps_stdout_clean(graded):
    _, run = graded
    assert "[5/5] graded" in run.stderr


def test_human_output_gives_the_counterexample_expected_got_and_hint():
    run = grader("grade", str(ROOT / "exercises" / SLUG / "stub.py"), "-e", SLUG)
    assert run.returncode == 0
    assert "Smallest failing input:" in run.stdout and "Hint:" in run.stdout
    assert "not a leaf" in run.stdout


def test_parallel_grading_gives_the_same_results_in_the_same_order(tmp_path):
    files = [str(p) for p in sorted((ROOT / "tests" / "exercises" / "none_grad_after_rebinding").glob("*.py"))[:4]]
    one = grader("grade", *files, "-e", SLUG, "--json")
    two = grader("grade", *files, "-e", SLUG, "--json", "--jobs", "2")
    strip = lambda out: [{k: v for k, v in json.loads(l).items() if k != "seconds"} for l in out.splitlines()]
    assert strip(one.stdout) == strip(two.stdout)


def test_unknown_exercise_is_a_clear_error_not_a_traceback():
    run = grader("grade", "x.py", "--exercise", "no-such-exercise")
    assert run.returncode != 0
    assert "unknown exercise 'no-such-exercise'" in run.stderr and SLUG in run.stderr
    assert "Traceback" not in run.stderr


def test_check_validates_the_bank_with_progress():
    run = grader("check")
    assert run.returncode == 0, run.stdout + run.stderr
    count = len(SLUGS)
    assert f"[{count}/{count}]" in run.stderr and f"All {count} exercise(s) are valid" in run.stdout


def test_check_lists_the_problems_of_a_broken_bank_and_exits_1(tmp_path):
    shutil.copytree(ROOT / "exercises", tmp_path / "exercises")
    shutil.copytree(ROOT / "solutions", tmp_path / "solutions")
    folder = tmp_path / "exercises" / SLUG
    shutil.copyfile(tmp_path / "solutions" / f"{SLUG}.py", folder / "stub.py")  # a "stub" without the bug
    run = grader("check", SLUG, cwd=tmp_path)
    assert run.returncode == 1 and "stub.ipynb is out of sync" in run.stdout
    assert grader("release", "--update-bank", "--out", str(tmp_path / "rel"), cwd=tmp_path).returncode == 0
    run = grader("check", SLUG, cwd=tmp_path)
    assert run.returncode == 1 and "the stub gets full marks" in run.stdout


def test_release_writes_student_bundles_without_solutions(tmp_path):
    run = grader("release", "--out", str(tmp_path))
    assert run.returncode == 0, run.stderr
    for slug in SLUGS:
        assert sorted(p.name for p in (tmp_path / slug).iterdir()) == ["README.md", "stub.ipynb", "stub.py"]
        assert (tmp_path / slug / "stub.ipynb").read_text() == (ROOT / "exercises" / slug / "stub.ipynb").read_text()


def test_bank_is_found_through_grader_bank_from_another_directory(tmp_path):
    import os

    run = grader("exercises", cwd=tmp_path, env={**os.environ, "GRADER_BANK": str(ROOT)})
    assert run.returncode == 0
    assert SLUG in run.stdout and "detached-prediction" in run.stdout


def test_no_bank_here_is_a_helpful_error(tmp_path):
    run = grader("exercises", cwd=tmp_path, env={"PATH": "/usr/bin:/bin"})
    assert run.returncode != 0 and "GRADER_BANK" in run.stderr and "Traceback" not in run.stderr


@pytest.mark.parametrize("command", [["exercises"], ["check"], ["release", "--out", "rel"],
                                     ["bench", "-n", "2", "-e", "x"]])
def test_a_malformed_exercise_toml_is_a_clear_error(tmp_path, command):
    (tmp_path / "exercises" / "x").mkdir(parents=True)
    (tmp_path / "exercises" / "x" / "exercise.toml").write_text('title = "unterminated\n')
    run = grader(*command, cwd=tmp_path)
    assert run.returncode != 0 and "not valid TOML" in run.stderr and "Traceback" not in run.stderr


def test_bench_names_an_unknown_exercise_instead_of_failing():
    run = grader("bench", "-e", "no-such-exercise")
    assert run.returncode != 0 and "unknown exercise 'no-such-exercise'" in run.stderr
    assert "Traceback" not in run.stderr


@pytest.mark.parametrize("args", [["--rounds", "2"], ["--service", "--rounds", "2"]])
def test_bench_rounds_without_the_celery_benchmark_is_a_usage_error(args):
    run = grader("bench", *args)
    assert run.returncode == 2 and "--rounds goes with --service --celery" in run.stderr


def test_bench_deadline_without_the_celery_benchmark_is_a_usage_error():
    run = grader("bench", "--service", "--deadline")
    assert run.returncode == 2 and "--deadline goes with --service --celery" in run.stderr


def test_doctor_reports_every_sandbox_layer_active():
    run = grader("doctor")
    assert run.returncode == 0, run.stdout
    for layer in ("cgroup", "rlimits", "namespaces", "landlock", "seccomp", "environment"):
        assert any(line.split()[:2] == ["active", layer] for line in run.stdout.splitlines()), run.stdout


def test_help_explains_the_commands():
    run = grader("--help")
    for command in ("check", "grade", "exercises", "release", "doctor", "bench"):
        assert command in run.stdout
    assert "--json" in grader("grade", "--help").stdout


@pytest.mark.slow
def test_bench_measures_the_sandbox_against_the_in_process_lower_bound():
    run = grader("bench", "-n", "3", "-j", "2", "--json", "-e", SLUG)
    assert run.returncode == 0, run.stderr
    figures = json.loads(run.stdout)["exercises"][SLUG]
    assert figures["lower_bound_p50_s"] > 0 and figures["sandboxed_p50_s"] > 0
    assert "sandbox_overhead_ratio" in figures
