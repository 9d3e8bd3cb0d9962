"""Invariants watched on every call, the shrinking budget and explicit examples (no sandbox)."""

from __future__ import annotations

import importlib.util
import sys

from hypothesis import strategies as st

from grader.checks import Invariant, check, expect, invariant
from grader.engine.results import Verdict
from grader.engine.runner import SHRINK_CALLS, Observation, example_key, run_check


class FakeSub:
    """Answers ``run_echo`` with ``answer(**args)``; counts the calls."""

    def __init__(self, answer):
        self.answer = answer
        self.calls: list[dict] = []

    def call(self, fn, **args):
        self.calls.append(args)
        return self.answer(**args)


def grade(checks, sub):
    """What grade_submission does with the checks, without a sandbox."""
    observation = Observation(checks)
    results = [run_check(c, sub, observation=observation) for c in checks]
    return {c.name: observation.verdict(c, r) if isinstance(c, Invariant) else r
            for c, r in zip(checks, results)}


@invariant(points=1, calls=("run_echo",), probe=st.fixed_dictionaries({"x": st.integers(0, 5)}),
           description="The reply is never negative.")
def never_negative(args, reply):
    expect(reply >= 0, "The reply is negative.", got=reply)


@check(points=2, description="Echoes large numbers.", examples=20, x=st.integers(0, 1000))
def echoes_large_numbers(sub, x):
    expect(sub.call("run_echo", x=x) in (x, -x), "Not an echo.")


def negative_above_100(x):
    return -x if x > 100 else x


def test_an_invariant_fails_on_a_violation_seen_in_another_checks_call():
    results = grade([never_negative, echoes_large_numbers], FakeSub(negative_above_100))
    assert results["echoes_large_numbers"].passed  # its own assertion holds
    result = results["never_negative"]
    assert result.verdict is Verdict.FAILED and result.points == 0
    assert result.counterexample["x"] > 100  # the input of the call that broke the contract
    assert "echoes_large_numbers" in result.message


def test_an_invariant_reports_the_smallest_violating_call_it_saw():
    results = grade([never_negative, echoes_large_numbers], FakeSub(negative_above_100))
    sub = FakeSub(negative_above_100)
    grade([never_negative, echoes_large_numbers], sub)
    smallest = min(a["x"] for a in sub.calls if a["x"] > 100)
    assert results["never_negative"].counterexample == {"x": smallest}


def test_an_invariants_own_failure_is_shrunk_to_the_minimal_input():
    result = grade([never_negative], FakeSub(lambda x: -1 if x >= 3 else x))["never_negative"]
    assert result.counterexample == {"x": 3} and result.minimal is True


def test_an_invariant_passes_when_no_call_violates_it():
    results = grade([never_negative, echoes_large_numbers], FakeSub(lambda x: x))
    assert all(r.passed for r in results.values())


def test_an_invariant_ignores_calls_to_functions_it_does_not_watch():
    @check(points=1, description="d", x=st.integers(0, 3))
    def other(sub, x):
        sub.call("run_other", x=x)

    results = grade([never_negative, other], FakeSub(lambda x: -1 if x > 5 else x))
    assert results["never_negative"].passed


def test_invariant_results_are_deterministic():
    def first():
        return grade([never_negative, echoes_large_numbers], FakeSub(negative_above_100))

    assert {k: r.to_dict() for k, r in first().items()} == {k: r.to_dict() for k, r in first().items()}


@check(points=1, description="Stays small.", examples=50, x=st.integers(0, 10**6), y=st.integers(0, 10**6))
def stays_small(sub, x, y):
    expect(sub.call("run_echo", x=x + y) < 10, "Too big.")


def test_shrinking_stops_at_its_call_budget_and_says_the_example_is_not_minimal():
    sub = FakeSub(lambda x: x)
    result = run_check(stays_small, sub)
    assert result.verdict is Verdict.FAILED
    first_failure = next(i for i, a in enumerate(sub.calls) if a["x"] >= 10)
    assert len(sub.calls) <= first_failure + 1 + SHRINK_CALLS
    reported = result.counterexample["x"] + result.counterexample["y"]
    assert reported >= 10  # a genuinely failing example ...
    if reported > 10:
        assert result.minimal is False  # ... and honest about not being the smallest


def test_a_check_can_set_its_own_shrinking_budget():
    budgeted = check(points=1, description="d", examples=50, shrink_calls=0,
                     x=st.integers(0, 10**6))(lambda sub, x: expect(sub.call("run_echo", x=x) < 10, "big"))
    sub = FakeSub(lambda x: x)
    result = run_check(budgeted, sub)
    first_failure = next(i for i, a in enumerate(sub.calls) if a["x"] >= 10)
    assert len(sub.calls) == first_failure + 1
    assert result.counterexample == {"x": sub.calls[first_failure]["x"]} and result.minimal is False


def test_the_final_replay_of_a_failing_example_does_not_call_the_submission_again():
    sub = FakeSub(lambda x: x)
    result = run_check(check(points=1, description="d", shrink_calls=1000, x=st.integers(0, 1000))(
        lambda sub, x: expect(sub.call("run_echo", x=x) < 10, "big")), sub)
    assert result.counterexample == {"x": 10} and result.minimal is True
    values = [a["x"] for a in sub.calls]
    assert len(values) == len(set(values))  # no example ran twice


def test_explicit_examples_run_first_and_a_failing_one_is_reported_as_is():
    sub = FakeSub(lambda x: x)
    explicit = check(points=1, description="d", explicit=[{"x": 2}, {"x": 500}],
                     x=st.integers(0, 1000))(lambda sub, x: expect(sub.call("run_echo", x=x) < 10, "big"))
    result = run_check(explicit, sub)
    assert [a["x"] for a in sub.calls[:2]] == [2, 500]
    assert result.counterexample == {"x": 500}


def test_examples_equal_by_value_have_equal_keys():
    import torch

    assert example_key({"t": torch.ones(2), "lr": 0.1}) == example_key({"t": torch.ones(2), "lr": 0.1})
    assert example_key({"t": torch.ones(2)}) != example_key({"t": torch.ones(3)})
    assert example_key({"lr": 0.1}) != example_key({"lr": 0.1000001})


def test_an_invariant_without_a_probe_only_watches_other_checks_calls():
    watcher = invariant(points=1, calls=("run_echo",), description="d")(
        lambda args, reply: expect(reply >= 0, "negative"))
    sub = FakeSub(negative_above_100)
    results = grade([watcher, echoes_large_numbers], sub)
    assert all(a for a in sub.calls)  # it never called run_echo without arguments
    assert not results["<lambda>"].passed


@check(points=1, description="Echoes any number.", examples=300, x=st.integers(0, 10**6))
def echoes_any_number(sub, x):
    expect(sub.call("run_echo", x=x) == x, "Not an echo.")


def test_drawn_examples_do_not_depend_on_the_literals_of_loaded_modules(tmp_path, monkeypatch):
    """Hypothesis draws from literals it finds in loaded local modules; grading must not."""
    before = FakeSub(lambda x: x)
    run_check(echoes_any_number, before)
    source = tmp_path / "literal_rich_module.py"
    source.write_text("".join(f"C{i} = {n}\n" for i, n in enumerate(range(123457, 987654, 86419))))
    spec = importlib.util.spec_from_file_location("literal_rich_module", source)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    monkeypatch.setitem(sys.modules, "literal_rich_module", module)  # loaded while grading
    after = FakeSub(lambda x: x)
    run_check(echoes_any_number, after)
    assert after.calls == before.calls
