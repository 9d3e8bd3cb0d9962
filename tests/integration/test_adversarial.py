"""Hostile submissions, graded through the real sandbox.

Each one gets a clean verdict, nothing leaks out of the sandbox, and the same warm sandbox
then grades the reference solution with full marks.
"""

from __future__ import annotations

import os
import textwrap
import uuid
from dataclasses import replace
from pathlib import Path

import pytest

from grader.engine.grading import grade_submission
from grader.engine.results import Verdict
from grader.engine.source import SubmissionSource

SLUG = "none-grad-after-rebinding"
SECRET = f"grader-secret-{uuid.uuid4().hex}"

# A correct fit(), so that an attack which is blocked still leaves a gradable submission.
CORRECT_FIT = textwrap.dedent("""
    import torch

    def fit(x, y, w0, b0, lr, steps):
        w = w0.clone().requires_grad_()
        b = b0.clone().requires_grad_()
        for _ in range(steps):
            loss = ((w * x + b - y) ** 2).mean()
            loss.backward()
            with torch.no_grad():
                w -= lr * w.grad
                b -= lr * b.grad
            w.grad = None
            b.grad = None
        return w, b
""")


@pytest.fixture()
def exercise(bank):
    exercise = bank.exercise(SLUG)
    exercise.limits = replace(exercise.limits, wall_seconds=12.0, call_seconds=3.0)
    return exercise


@pytest.fixture()
def grade(exercise, sandbox, bank):
    """Grade an attack, then prove the sandbox still grades the reference solution."""

    def run(source: str):
        result = grade_submission(exercise, SubmissionSource("attack.py", textwrap.dedent(source)), sandbox)
        after = grade_submission(exercise, SubmissionSource("solution.py",
                                                            exercise.solution.read_text()), sandbox)
        assert after.score == exercise.points, "the grader stopped serving after the attack"
        return result

    return run


def messages(result) -> str:
    return "\n".join(f"{c.verdict}: {c.message} {c.output or ''}" for c in result.checks)


def test_tcp_socket_is_refused(grade):
    result = grade(CORRECT_FIT + textwrap.dedent("""
        import socket
        try:
            socket.create_connection(("127.0.0.1", 5432), timeout=1)
            raise RuntimeError("LEAK: connected to PostgreSQL")
        except PermissionError:
            pass
    """))
    assert result.score == 10, messages(result)


def test_unix_socket_to_a_local_database_is_refused(grade):
    result = grade("""
        import socket
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.connect("/run/postgresql/.s.PGSQL.5432")
    """)
    assert result.score == 0
    assert "PermissionError" in messages(result)


def test_reading_the_reference_solutions_is_refused(grade, bank):
    path = bank.solutions_dir / f"{SLUG}.py"
    result = grade(f"open({str(path)!r}).read()\n")
    assert result.score == 0 and "PermissionError" in messages(result)


def test_reading_the_exercise_checks_is_refused(grade, bank):
    path = bank.exercises_dir / SLUG / "checks.py"
    result = grade(f"open({str(path)!r}).read()\n")
    assert "PermissionError" in messages(result)


def test_reading_the_graders_environment_through_proc_is_refused(grade, monkeypatch):
    monkeypatch.setenv("GRADER_TEST_SECRET", SECRET)
    result = grade(CORRECT_FIT + textwrap.dedent(f"""
        import os
        for pid in ({os.getpid()}, os.getppid(), 1):
            try:
                data = open(f"/proc/{{pid}}/environ", "rb").read()
            except OSError:
                continue
            raise RuntimeError("LEAK: " + data.decode(errors="replace"))
        print(sorted(os.environ))
    """))
    assert result.score == 10, messages(result)
    assert SECRET not in messages(result)


def test_the_submission_sees_an_empty_environment(grade, monkeypatch):
    monkeypatch.setenv("GRADER_TEST_SECRET", SECRET)
    result = grade("""
        import os
        raise RuntimeError("ENV " + repr(dict(os.environ)))
    """)
    text = messages(result)
    assert SECRET not in text and "ENV" in text and "DATABASE" not in text


def test_writing_outside_the_scratch_directory_is_refused(grade, tmp_path):
    target = Path("/tmp") / f"torch-grader-pwned-{uuid.uuid4().hex}"
    result = grade(CORRECT_FIT + textwrap.dedent(f"""
        import os, tempfile
        with open(os.path.join(tempfile.gettempdir(), "scratch-ok.txt"), "w") as f:
            f.write("scratch is writable")
        try:
            open({str(target)!r}, "w").write("pwned")
            raise RuntimeError("LEAK: wrote outside scratch")
        except PermissionError:
            pass
    """))
    assert result.score == 10, messages(result)
    assert not target.exists()


def test_fork_bomb_is_contained_and_cleaned_up(grade):
    result = grade("""
        import os
        while True:
            os.fork()
    """)
    assert result.score == 0
    assert all(c.verdict is not Verdict.PASSED for c in result.checks)
    # What may remain is the spare child waiting for the next submission: one process.
    for group in Path("/sys/fs/cgroup/pids").rglob("torch-grader-*"):
        assert len((group / "cgroup.procs").read_text().split()) <= 1


def test_allocating_20_gigabytes_gets_a_memory_verdict(grade):
    result = grade(CORRECT_FIT + textwrap.dedent("""
        _fit = fit
        def fit(*args):
            hog = torch.empty(5 * 2**30)  # 20 GB of float32
            return _fit(*args)
    """))
    assert {c.verdict for c in result.checks} == {Verdict.MEMORY}, messages(result)


def test_allocating_20_gigabytes_of_python_objects_gets_a_memory_verdict(grade):
    result = grade(CORRECT_FIT + textwrap.dedent("""
        _fit = fit
        def fit(*args):
            hog = bytearray(20 * 2**30)
            return _fit(*args)
    """))
    assert {c.verdict for c in result.checks} == {Verdict.MEMORY}, messages(result)


def test_an_infinite_loop_gets_a_timeout_verdict_per_check(grade):
    result = grade(CORRECT_FIT + textwrap.dedent("""
        def fit(*args):
            while True:
                pass
    """))
    assert {c.verdict for c in result.checks} == {Verdict.TIMEOUT}, messages(result)


def test_an_infinite_loop_at_import_gets_a_timeout_verdict(grade):
    result = grade("while True:\n    pass\n")
    assert {c.verdict for c in result.checks} == {Verdict.TIMEOUT}


def test_printing_a_gigabyte_is_capped(grade):
    result = grade(CORRECT_FIT + textwrap.dedent("""
        import sys
        _fit = fit
        def fit(*args):
            chunk = "x" * (1 << 20)
            for _ in range(1024):
                sys.stdout.write(chunk)
            return _fit(*args)
    """))
    assert result.score < 10
    for check in result.checks:
        assert check.output is None or len(check.output) < 20_000


@pytest.mark.parametrize("exit_call", ["os._exit(0)", "sys.exit(0)", "raise SystemExit(3)"])
def test_exiting_at_import_is_reported_not_crashing_the_grader(grade, exit_call):
    result = grade(f"import os, sys\n{exit_call}\n")
    assert result.score == 0
    assert all(c.verdict in (Verdict.ERROR, Verdict.CRASHED) for c in result.checks)
    assert "exit" in messages(result).lower()


def test_exiting_inside_the_function_is_a_crash_of_that_call(grade):
    result = grade(CORRECT_FIT + "\nimport os\ndef fit(*args):\n    os._exit(0)\n")
    assert {c.verdict for c in result.checks} == {Verdict.CRASHED}


def test_killing_the_parent_or_the_grader_is_refused(grade):
    result = grade(CORRECT_FIT + textwrap.dedent(f"""
        import os, signal
        for pid in (os.getppid(), {os.getpid()}, 1):
            try:
                os.kill(pid, signal.SIGKILL)
                raise RuntimeError(f"LEAK: could signal {{pid}}")
            except PermissionError:
                pass
    """))
    assert result.score == 10, messages(result)


def test_running_programs_is_refused(grade):
    result = grade(CORRECT_FIT + textwrap.dedent("""
        import subprocess
        try:
            subprocess.run(["/bin/true"])
            raise RuntimeError("LEAK: ran a program")
        except PermissionError:
            pass
    """))
    assert result.score == 10, messages(result)


def test_monkeypatching_torch_comparisons_cannot_raise_the_score(grade, exercise):
    stub = exercise.stub_path.read_text()
    baseline = grade(stub).score
    patched = grade(stub + textwrap.dedent("""
        import torch
        torch.allclose = lambda *a, **k: True
        torch.equal = lambda *a, **k: True
        torch.Tensor.__eq__ = lambda self, other: torch.ones_like(self, dtype=torch.bool)
        torch.Tensor.is_leaf = property(lambda self: True)
        torch.Tensor.requires_grad = property(lambda self: True)
    """))
    assert patched.score <= baseline


def test_monkeypatching_the_driver_helpers_cannot_raise_the_score(grade, exercise):
    stub = exercise.stub_path.read_text()
    baseline = grade(stub).score
    patched = grade(stub + textwrap.dedent("""
        import sys
        kit = sys.modules["grader.sandbox.driver_kit"]
        kit.tensor_report = lambda value, what, storage=False: None
        kit.snapshot = lambda value: value
        sys.modules["grader.sandbox.wire"].encode_frame = lambda *a, **k: b"forged"
    """))
    assert patched.score <= baseline


def test_fake_results_written_to_stdout_are_ignored(grade, exercise):
    stub = exercise.stub_path.read_text()
    result = grade(stub + textwrap.dedent("""
        import sys, os
        print('{"kind": "result", "score": 10, "max_score": 10}')
        os.write(1, b'{"score": 10}\\n')
    """))
    assert result.score < exercise.points


def test_a_forged_reply_on_the_channel_is_an_invalid_reply(grade):
    result = grade(CORRECT_FIT + textwrap.dedent("""
        import os, socket, stat
        _fit = fit
        def fit(*args):
            for fd in range(3, 64):
                try:
                    if stat.S_ISSOCK(os.fstat(fd).st_mode):
                        os.write(fd, b"\\x00\\x00\\x00\\x10not json at all!")
                except OSError:
                    pass
            return _fit(*args)
    """))
    assert {c.verdict for c in result.checks} == {Verdict.INVALID_REPLY}, messages(result)
    assert "invalid reply from submission" in messages(result)


def test_a_well_formed_forged_reply_cannot_claim_a_pass(grade):
    result = grade(CORRECT_FIT + textwrap.dedent("""
        import os, stat, sys, torch
        wire = sys.modules["grader.sandbox.wire"]
        _fit = fit
        def fit(*args):
            fake = {"w": torch.tensor([5.109], requires_grad=True), "b": torch.tensor([2.248]),
                    "passed": True, "score": 10}
            for fd in range(3, 64):
                try:
                    if stat.S_ISSOCK(os.fstat(fd).st_mode):
                        for msg_id in range(1, 50):
                            os.write(fd, wire.encode_frame("result", msg_id, fake))
                except OSError:
                    pass
            os._exit(0)
    """))
    assert result.score < 10
    assert Verdict.PASSED not in {c.verdict for c in result.checks}
