"""Every exercise, graded through the real sandbox against its variants.

Each file under ``tests/exercises/<slug>/`` starts with ``# expect-lost: a, b`` naming
exactly the checks it must lose (nothing, for correct variants).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from grader.engine.grading import grade_submission
from grader.engine.source import read_submission

HERE = Path(__file__).parent
SLUGS = sorted(p.name.replace("_", "-") for p in HERE.iterdir() if p.is_dir() and not p.name.startswith("__"))
VARIANTS = sorted(HERE.glob("*/*.py"))


def expected_losses(path: Path) -> set[str]:
    first = path.read_text(encoding="utf-8").splitlines()[0]
    assert first.startswith("# expect-lost:"), f"{path} must start with '# expect-lost:'"
    return {name.strip() for name in first.split(":", 1)[1].split(",") if name.strip()}


@pytest.mark.parametrize("path", VARIANTS, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_variant_loses_exactly_the_checks_its_bug_violates(path, bank, sandbox):
    exercise = bank.exercise(path.parent.name.replace("_", "-"))
    result = grade_submission(exercise, read_submission(path), sandbox)
    details = {c.name: f"{c.verdict}: {c.message[:200]}" for c in result.checks if not c.passed}
    assert result.lost_checks() == expected_losses(path), details
    lost_points = sum(c.max_points for c in result.checks if c.name in expected_losses(path))
    assert result.score == pytest.approx(exercise.points - lost_points)


@pytest.mark.parametrize("slug", SLUGS)
def test_each_exercise_has_at_least_five_correct_and_five_buggy_variants(slug):
    folder = HERE / slug.replace("-", "_")
    correct = [p for p in folder.glob("*.py") if not expected_losses(p)]
    buggy = [p for p in folder.glob("*.py") if expected_losses(p)]
    assert len(correct) >= 5 and len(buggy) >= 5


@pytest.mark.parametrize("slug", SLUGS)
def test_reference_solution_gets_full_marks(slug, bank, sandbox):
    exercise = bank.exercise(slug)
    result = grade_submission(exercise, read_submission(exercise.solution), sandbox)
    assert result.score == exercise.points, [c.message for c in result.checks if not c.passed]


def _grade_stub(slug, bank, sandbox):
    exercise = bank.exercise(slug)
    return grade_submission(exercise, read_submission(exercise.stub_path), sandbox)


def test_rebinding_stub_loses_the_gradient_descent_points_with_a_hint_about_leaves(bank, sandbox):
    result = _grade_stub("none-grad-after-rebinding", bank, sandbox)
    check = result.check("follows_gradient_descent")
    assert check.points == 0
    assert "NoneType" in check.message and "not a leaf" in check.hint
    assert check.counterexample["steps"] == 2  # the smallest failing input: the second step


def test_detached_stub_loses_the_update_points_but_keeps_the_loss_points(bank, sandbox):
    result = _grade_stub("detached-prediction", bank, sandbox)
    assert result.lost_checks() == {"updates_parameters_like_reference",
                                    "ignores_leftover_gradients", "trains_over_several_steps"}
    assert "did not change" in result.check("updates_parameters_like_reference").message


def test_accumulating_stub_loses_the_zero_grad_points(bank, sandbox):
    result = _grade_stub("accumulated-gradients", bank, sandbox)
    assert {"parameters_follow_reference", "final_grads_are_last_batch_only"} <= result.lost_checks()
    assert "zero_grad" in result.check("parameters_follow_reference").hint


@pytest.mark.parametrize("slug", SLUGS)
def test_grading_the_same_stub_twice_gives_identical_results(slug, bank, sandbox):
    assert _grade_stub(slug, bank, sandbox).fingerprint() == _grade_stub(slug, bank, sandbox).fingerprint()
