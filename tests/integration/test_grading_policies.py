"""Grading policies that need the real sandbox: forbidden APIs, missing sandbox layers,
checks that abandon a reply, and what a student sees of hidden checks."""

from __future__ import annotations

import shutil
import textwrap
from pathlib import Path

import pytest

from grader.engine.bank import Bank
from grader.checks import check, expect
from grader.engine.grading import FORBIDDEN_CHECK, SandboxedSubmission, grade_submission
from grader.engine.results import Verdict
from grader.engine.runner import run_check
from grader.sandbox.client import Sandbox, SandboxSettings, SandboxUnavailable
from grader.sandbox.layers import LayerStatus
from grader.engine.source import SubmissionSource, read_submission

ROOT = Path(__file__).resolve().parents[2]
SLUG = "none-grad-after-rebinding"
VARIANTS = ROOT / "tests" / "exercises" / "none_grad_after_rebinding"


@pytest.fixture()
def optim_forbidden(tmp_path) -> Bank:
    """A copy of the bank in which the rebinding exercise forbids torch.optim (worth 2 points)."""
    shutil.copytree(ROOT / "exercises", tmp_path / "exercises")
    shutil.copytree(ROOT / "solutions", tmp_path / "solutions")
    toml = tmp_path / "exercises" / SLUG / "exercise.toml"
    text = toml.read_text().replace("points = 10", "points = 12").replace(
        "forbidden = []", 'forbidden = ["torch.optim"]')
    toml.write_text(text + f"\n[checks.{FORBIDDEN_CHECK}]\npoints = 2\n")
    return Bank(tmp_path)


def test_a_forbidden_api_fails_its_check_and_nothing_else_runs(optim_forbidden, sandbox):
    exercise = optim_forbidden.exercise(SLUG)
    result = grade_submission(exercise, read_submission(VARIANTS / "correct_optim_sgd.py"), sandbox)
    assert result.score == 0
    forbidden = result.check(FORBIDDEN_CHECK)
    assert forbidden.verdict is Verdict.FAILED and "torch.optim" in forbidden.message
    assert "line" in forbidden.message
    assert all("Not run" in c.message for c in result.checks if c.name != FORBIDDEN_CHECK)


def test_a_submission_without_the_forbidden_api_gets_the_static_points_too(optim_forbidden, sandbox):
    exercise = optim_forbidden.exercise(SLUG)
    result = grade_submission(exercise, read_submission(exercise.solution), sandbox)
    assert result.score == result.max_score == 12


def test_the_grader_refuses_to_run_student_code_when_a_layer_is_missing(monkeypatch):
    real_probe = Sandbox.probe

    def probe_without_landlock(self):
        return [LayerStatus(s.name, False, "not offered by this kernel") if s.name == "landlock" else s
                for s in real_probe(self)]

    monkeypatch.setattr(Sandbox, "probe", probe_without_landlock)
    with pytest.raises(SandboxUnavailable, match="landlock"):
        Sandbox(SandboxSettings()).start()


def test_unsafe_sandbox_grades_without_the_missing_layer_and_says_so(monkeypatch, capsys, bank):
    real_probe = Sandbox.probe
    monkeypatch.setattr(Sandbox, "probe", lambda self: [
        LayerStatus(s.name, False, "off") if s.name == "seccomp" else s for s in real_probe(self)])
    with Sandbox(SandboxSettings(unsafe=True)) as box:
        assert "seccomp" not in box.layers_in_force and "landlock" in box.layers_in_force
        exercise = bank.exercise(SLUG)
        assert grade_submission(exercise, read_submission(exercise.solution), box).score == 10
    assert "UNSAFE SANDBOX" in capsys.readouterr().err


def test_the_sandbox_refuses_a_bank_inside_a_readable_path():
    import sys

    settings = SandboxSettings(forbidden_paths=(str(Path(sys.prefix) / "solutions"),))
    with pytest.raises(SandboxUnavailable, match="would be readable"):
        Sandbox(settings).start()


def test_a_check_that_abandons_a_reply_does_not_confuse_the_next_call(bank, sandbox):
    exercise = bank.exercise(SLUG)
    problem = {"x": __import__("torch").ones(2, 1), "y": __import__("torch").ones(2, 1),
               "w0": __import__("torch").zeros(1), "b0": __import__("torch").zeros(1),
               "lr": 0.1, "steps": 3}

    @check(points=1, description="starts a call, then fails before reading the reply")
    def abandons(sub):
        sub.start("run_fit", **problem)
        raise ValueError("the check gave up")

    @check(points=1, description="a normal call afterwards")
    def then_calls(sub):
        got = sub.call("run_fit", **problem)
        expect(got["w"].is_leaf, "w is a leaf")

    sub = SandboxedSubmission(sandbox, exercise, SubmissionSource("s.py", exercise.solution.read_text()))
    try:
        assert run_check(abandons, sub).verdict is Verdict.ERROR
        assert run_check(then_calls, sub).verdict is Verdict.PASSED
    finally:
        sub.close()


def test_students_see_no_details_of_hidden_checks(bank, sandbox):
    exercise = bank.exercise(SLUG)
    hidden = exercise.checks[1].__class__(**{**exercise.checks[1].__dict__, "visible": False})
    exercise.__dict__["checks"] = [exercise.checks[0], hidden, *exercise.checks[2:]]
    result = grade_submission(exercise, read_submission(exercise.stub_path), sandbox)
    view = result.student_dict()["checks"][1]
    assert view["verdict"] != "passed" and view["message"] == "This check is hidden."
    assert "counterexample" not in view and "hint" not in view


def test_a_syntax_error_gets_a_clear_message_and_zero(bank, sandbox):
    exercise = bank.exercise(SLUG)
    result = grade_submission(exercise, SubmissionSource("s.py", "def fit(:\n"), sandbox)
    assert result.score == 0
    assert all("could not be imported" in c.message and "line 1" in c.message for c in result.checks)


def test_a_missing_function_and_a_wrong_signature_get_clear_messages(bank, sandbox):
    exercise = bank.exercise(SLUG)
    missing = grade_submission(exercise, SubmissionSource("s.py", "def fitt(x):\n    pass\n"), sandbox)
    assert "does not define `fit`" in missing.checks[0].message
    wrong = grade_submission(exercise, SubmissionSource("s.py", "def fit(x, y):\n    pass\n"), sandbox)
    assert "cannot be called as `fit(x, y, w0, b0, lr, steps)`" in wrong.checks[0].message


def test_numpy_and_matplotlib_work_inside_the_sandbox(bank, sandbox):
    exercise = bank.exercise(SLUG)
    source = exercise.solution.read_text() + textwrap.dedent("""
        import numpy as np
        import matplotlib.pyplot as plt
        plt.plot(np.arange(3), np.arange(3) ** 2)
        plt.savefig("curve.png")
        plt.show()
    """)
    assert grade_submission(exercise, SubmissionSource("s.py", source), sandbox).score == 10


def test_the_grader_recovers_when_the_fork_server_dies(bank):
    import os
    import signal

    exercise = bank.exercise(SLUG)
    solution = read_submission(exercise.solution)
    with Sandbox(SandboxSettings()) as box:
        assert grade_submission(exercise, solution, box).score == 10
        os.kill(box._proc.pid, signal.SIGKILL)
        box._proc.wait()
        assert grade_submission(exercise, solution, box).score == 10


def test_a_layer_that_fails_in_the_child_is_named_in_the_verdict(sandbox):
    from grader.sandbox.client import LoadRequest, SandboxVerdict
    from grader.sandbox.layers import Limits

    impossible = Limits(max_open_files=2**40)  # above fs.nr_open: setrlimit refuses it
    with pytest.raises(SandboxVerdict) as failure:
        sandbox.open(LoadRequest("", "x = 1\n", "s.py", {}), 10.0, impossible)
    assert failure.value.verdict is Verdict.CRASHED
    assert "sandbox layer 'rlimits' failed" in failure.value.message
