"""grader.engine.runner.run_check against an in-process fake submission (no sandbox)."""

from __future__ import annotations

import pytest
from hypothesis import strategies as st

from grader.checks import CheckFailed, check, expect
from grader.engine.results import Verdict
from grader.engine.runner import run_check
from grader.sandbox.client import ContractViolation, SandboxVerdict, StudentError


class FakeSub:
    """Answers ``call`` with ``answer(**args)``; counts calls."""

    def __init__(self, answer=lambda **args: args.get("x")):
        self.answer = answer
        self.calls: list[tuple[str, dict]] = []

    def call(self, fn, **args):
        self.calls.append((fn, args))
        return self.answer(**args)


@check(points=3, description="Returns its input.", hint="Return x.", examples=30, x=st.integers(0, 1000))
def echoes(sub, x):
    got = sub.call("run_echo", x=x)
    expect(got == x, "The answer is not x.", expected=x, got=got)


@check(points=2, description="Stays small.", hint="Keep it under 10.", examples=50, x=st.integers(0, 1000))
def stays_small(sub, x):
    got = sub.call("run_echo", x=x)
    expect(got < 10, "The answer is too big.", expected="a number below 10", got=got)


def test_a_passing_check_gets_full_points():
    result = run_check(echoes, FakeSub())
    assert result.verdict is Verdict.PASSED and result.passed
    assert (result.points, result.max_points) == (3, 3)
    assert result.message == "" and result.hint is None and result.counterexample is None
    assert (result.name, result.description) == ("echoes", "Returns its input.")


def test_a_passing_check_runs_the_configured_number_of_examples():
    sub = FakeSub()
    run_check(echoes, sub, examples=7)
    assert 1 <= len(sub.calls) <= 7


def test_a_failing_check_reports_the_shrunk_minimal_counterexample():
    result = run_check(stays_small, FakeSub())
    assert result.verdict is Verdict.FAILED
    assert result.points == 0 and result.max_points == 2
    assert result.counterexample == {"x": 10}
    assert result.message == "The answer is too big."
    assert (result.expected, result.got) == ("'a number below 10'", "10")
    assert result.hint == "Keep it under 10."


def test_a_failure_hint_overrides_the_check_hint():
    @check(points=1, description="d", hint="generic", x=st.integers(0, 3))
    def with_hint(sub, x):
        raise CheckFailed("no", hint="specific")

    assert run_check(with_hint, FakeSub()).hint == "specific"


def test_a_check_without_strategies_runs_once_and_has_no_counterexample():
    @check(points=1, description="d", hint="h")
    def plain(sub):
        expect(sub.call("run") == 1, "Not one.", got=sub.call("run"))

    sub = FakeSub(lambda: 2)
    result = run_check(plain, sub)
    assert result.verdict is Verdict.FAILED and result.counterexample is None
    assert result.got == "2" and len(sub.calls) == 2


@check(points=1, description="Does not raise.", hint="generic hint",
       error_hints={"ZeroDivisionError": "Check the batch size is not zero."}, x=st.integers(0, 5))
def student_raises(sub, x):
    sub.call("run", x=x)


def raising(type_name, message, traceback=""):
    def answer(**args):
        raise StudentError(type_name, message, traceback)
    return answer


def test_a_student_error_is_an_error_verdict_with_the_matching_error_hint():
    result = run_check(student_raises, FakeSub(raising("ZeroDivisionError", "division by zero",
                                                        'File "answer.py", line 3')))
    assert result.verdict is Verdict.ERROR and result.points == 0
    assert result.message == 'Your code raised ZeroDivisionError: division by zero\nFile "answer.py", line 3'
    assert result.hint == "Check the batch size is not zero."
    assert result.counterexample == {"x": 0}


def test_a_student_error_without_a_matching_hint_falls_back_to_the_check_hint():
    result = run_check(student_raises, FakeSub(raising("KeyError", "'w'")))
    assert result.verdict is Verdict.ERROR
    assert result.message == "Your code raised KeyError: 'w'"
    assert result.hint == "generic hint"


def test_a_contract_violation_is_a_failed_verdict():
    def answer(**args):
        raise ContractViolation("train must return a list of losses, not NoneType")

    result = run_check(student_raises, FakeSub(answer))
    assert result.verdict is Verdict.FAILED and result.points == 0
    assert result.message == "train must return a list of losses, not NoneType."


@pytest.mark.parametrize("verdict", [Verdict.TIMEOUT, Verdict.MEMORY, Verdict.CRASHED, Verdict.INVALID_REPLY])
def test_a_sandbox_verdict_stops_the_run_at_once(verdict):
    sub_calls, check_calls = [0], [0]

    class DyingSub:
        def call(self, fn, **args):
            sub_calls[0] += 1
            if sub_calls[0] == 3:
                raise SandboxVerdict(verdict, "the sandbox gave up")
            return args["x"]

    @check(points=2, description="d", hint="h", examples=50, x=st.integers(0, 1000))
    def counted(sub, x):
        check_calls[0] += 1
        sub.call("run", x=x)

    result = run_check(counted, DyingSub())
    assert result.verdict is verdict and result.points == 0
    assert result.message == "the sandbox gave up"
    assert (sub_calls[0], check_calls[0]) == (3, 3), "no call after the sandbox died, no shrinking"
    assert result.counterexample is not None  # the input it died on


def test_a_sandbox_verdict_in_a_check_without_strategies_is_reported():
    @check(points=1, description="d")
    def once(sub):
        raise SandboxVerdict(Verdict.CRASHED, "killed by signal 9")

    result = run_check(once, FakeSub())
    assert result.verdict is Verdict.CRASHED and result.message == "killed by signal 9"


def test_running_the_same_check_twice_gives_identical_results():
    @check(points=1, description="d", examples=40,
           xs=st.lists(st.floats(-10, 10), min_size=1, max_size=5), k=st.integers(1, 9))
    def picky(sub, xs, k):
        expect(sum(xs) * k < 17, "Too large.", got=xs)

    first, second = run_check(picky, FakeSub()), run_check(picky, FakeSub())
    assert first.verdict is Verdict.FAILED
    assert first == second


def test_the_inputs_seen_are_the_same_on_every_run():
    first, second = FakeSub(), FakeSub()
    run_check(echoes, first)
    run_check(echoes, second)
    assert first.calls == second.calls


@pytest.mark.parametrize("strategies", [{"x": st.integers(0, 3)}, {}], ids=["with-strategies", "plain"])
def test_a_bug_in_the_check_itself_is_an_error_blamed_on_the_grader(strategies):
    def broken(sub, **drawn):
        return 1 / 0

    broken_check = check(points=4, description="d", hint="student hint", **strategies)(broken)
    result = run_check(broken_check, FakeSub())
    assert result.verdict is Verdict.ERROR and result.points == 0
    assert result.message.startswith("The grader could not run this check (ZeroDivisionError")
    assert "report this to your instructor" in result.message
    assert result.hint is None


def test_a_hidden_check_result_is_marked_invisible():
    hidden = check(points=1, description="d", visible=False, x=st.integers(0, 1000))(stays_small.function)
    result = run_check(hidden, FakeSub())
    assert result.visible is False and result.verdict is Verdict.FAILED


def test_keyboard_interrupt_is_not_swallowed():
    @check(points=1, description="d")
    def interrupted(sub):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_check(interrupted, FakeSub())


def test_a_check_can_report_its_own_failing_example():
    from grader.checks import CheckFailed

    @check(points=1, description="a stateful check names the failing sequence itself")
    def finds_its_own_example(sub):
        raise CheckFailed("diverged at step 3", example={"steps": "reset(); backward(); step()"})

    result = run_check(finds_its_own_example, object())
    assert result.counterexample == {"steps": "reset(); backward(); step()"}
