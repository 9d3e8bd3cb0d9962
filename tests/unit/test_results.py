"""grader.engine.results: the result model is plain, JSON-serialisable data."""

from __future__ import annotations

import json

import pytest

from grader.engine.results import CheckResult, GradeResult, Verdict


def check_result(name="fits", verdict=Verdict.PASSED, **overrides) -> CheckResult:
    passed = verdict is Verdict.PASSED
    fields = dict(name=name, verdict=verdict, points=2.0 if passed else 0.0, max_points=2.0,
                  message="" if passed else "w has the wrong value.", description="Fits the data.")
    if not passed:
        fields.update(hint="Look at zero_grad().", counterexample={"x": 10, "lr": 0.5},
                      expected="tensor(1)", got="tensor(2)", output="hello\n")
    fields.update(overrides)
    return CheckResult(**fields)


@pytest.fixture
def graded() -> GradeResult:
    result = GradeResult.from_checks("answer.py", "accumulated-gradients", 6.0, [
        check_result("fits"),
        check_result("grads", Verdict.FAILED),
        check_result("secret", Verdict.FAILED, visible=False),
        check_result("slow", Verdict.TIMEOUT, message="took too long", hint=None,
                     counterexample=None, expected=None, got=None, output=None),
    ], notes=["1 IPython magic or shell (!) line(s) were ignored."])
    result.seconds = 1.25
    return result


def test_from_checks_sums_the_points(graded):
    assert graded.score == 2.0 and graded.max_score == 6.0


def test_to_dict_from_dict_round_trips(graded):
    assert GradeResult.from_dict(graded.to_dict()) == graded


def test_the_dict_survives_json(graded):
    data = json.loads(json.dumps(graded.to_dict()))
    assert GradeResult.from_dict(data) == graded
    assert data["checks"][1]["verdict"] == "failed"


def test_an_ungradable_result_round_trips_with_its_error():
    result = GradeResult.ungradable("a.py", "ex", 10.0, "the file is not UTF-8 text")
    data = json.loads(json.dumps(result.to_dict()))
    assert data["error"] == "the file is not UTF-8 text" and data["score"] == 0.0
    assert GradeResult.from_dict(data) == result


def test_to_dict_leaves_out_empty_optional_fields():
    data = check_result("fits").to_dict()
    assert data["verdict"] == "passed"
    assert not {"hint", "counterexample", "expected", "got", "output"} & set(data)


@pytest.mark.parametrize("verdict", list(Verdict))
def test_every_verdict_serialises_to_its_value(verdict):
    assert check_result(verdict=verdict).to_dict()["verdict"] == verdict.value
    assert str(verdict) == verdict.value


def test_the_student_view_of_a_hidden_failed_check_hides_the_details(graded):
    view = graded.check("secret").student_view()
    assert view == {"name": "secret", "verdict": "failed", "points": 0.0, "max_points": 2.0,
                    "message": "This check is hidden.", "visible": False}
    dumped = json.dumps(view)
    assert "wrong value" not in dumped and "zero_grad" not in dumped and "tensor(" not in dumped


def test_the_student_view_of_a_hidden_passed_check_has_an_empty_message():
    view = check_result("secret", visible=False).student_view()
    assert view["message"] == "" and view["points"] == 2.0


def test_the_student_view_of_a_visible_check_is_the_full_dict(graded):
    assert graded.check("grads").student_view() == graded.check("grads").to_dict()


def test_student_dict_applies_the_student_view_to_every_check(graded):
    data = graded.student_dict()
    assert [c.get("counterexample") for c in data["checks"]] == [None, {"x": 10, "lr": 0.5}, None, None]
    assert data["score"] == graded.score


def test_fingerprints_of_equal_results_are_equal(graded):
    again = GradeResult.from_dict(graded.to_dict())
    again.seconds = 99.0  # timing is not part of the result's identity
    assert again.fingerprint() == graded.fingerprint()


@pytest.mark.parametrize("change", [
    lambda r: setattr(r, "score", 1.0),
    lambda r: setattr(r.checks[1], "message", "other"),
    lambda r: setattr(r.checks[1], "counterexample", {"x": 11, "lr": 0.5}),
    lambda r: setattr(r.checks[3], "verdict", Verdict.CRASHED),
    lambda r: setattr(r.checks[1], "got", "tensor(3)"),
], ids=["score", "message", "counterexample", "verdict", "got"])
def test_fingerprints_differ_when_a_graded_outcome_differs(graded, change):
    other = GradeResult.from_dict(graded.to_dict())
    change(other)
    assert other.fingerprint() != graded.fingerprint()


def test_lost_checks_names_every_check_that_did_not_pass(graded):
    assert graded.lost_checks() == {"grads", "secret", "slow"}


def test_check_looks_up_by_name(graded):
    assert graded.check("slow").verdict is Verdict.TIMEOUT
    with pytest.raises(KeyError):
        graded.check("missing")
