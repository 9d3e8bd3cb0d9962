"""grader.engine.bank and the sandbox-free parts of grader.engine.validate, on a tiny bank in tmp_path."""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path

import pytest

from grader.engine.bank import REQUIRED_FILES, Bank, BankError
from grader.engine.notebooks import stub_to_notebook
from grader.engine.validate import metadata_problems, notebook_problems

SLUG = "adds-one"

TOML = textwrap.dedent("""\
    title = "Adds one"
    summary = "A tiny exercise for the unit tests."
    points = 5
    stub_fails = ["adds_one"]
    forbidden = []

    [entry_points]
    add_one = ["x"]
    """)

CHECKS = textwrap.dedent("""\
    from hypothesis import strategies as st

    from grader.checks import check, expect


    @check(points=3, description="Adds one to x.", x=st.integers(0, 5))
    def adds_one(sub, x):
        expect(sub.call("run_add_one", x=x) == x + 1, "Wrong.")


    @check(points=2, description="Returns an int.")
    def returns_int(sub):
        expect(isinstance(sub.call("run_add_one", x=1), int), "Not an int.")
    """)

STUB = "# %% [markdown]\n# # Adds one\n\n# %%\ndef add_one(x):\n    return x\n"


@pytest.fixture(autouse=True)
def forget_imported_checks():
    """Exercise.checks registers each checks.py in sys.modules; drop what a test added."""
    before = set(sys.modules)
    yield
    for name in set(sys.modules) - before:
        if name.startswith("grader_bank_checks_"):
            del sys.modules[name]


@pytest.fixture
def bank_root(tmp_path) -> Path:
    folder = tmp_path / "exercises" / SLUG
    folder.mkdir(parents=True)
    (folder / "exercise.toml").write_text(TOML)
    (folder / "README.md").write_text("# Adds one\n")
    (folder / "stub.py").write_text(STUB)
    (folder / "stub.ipynb").write_text(stub_to_notebook(STUB, "Adds one"))
    (folder / "checks.py").write_text(CHECKS)
    (folder / "driver.py").write_text("def run_add_one(student, x):\n    return student.add_one(x)\n")
    (tmp_path / "solutions").mkdir()
    (tmp_path / "solutions" / f"{SLUG}.py").write_text("def add_one(x):\n    return x + 1\n")
    return tmp_path


def folder(root: Path) -> Path:
    return root / "exercises" / SLUG


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, f"{old!r} not in {path.name}"
    path.write_text(text.replace(old, new))


def problems_of(root: Path) -> list[str]:
    return metadata_problems(Bank(root).exercise(SLUG))


# ----------------------------------------------------------------------------- loading
def test_a_good_exercise_loads_with_its_metadata_and_checks(bank_root):
    exercise = Bank(bank_root).exercise(SLUG)
    assert (exercise.slug, exercise.title, exercise.points) == (SLUG, "Adds one", 5.0)
    assert exercise.entry_points == {"add_one": ["x"]}
    assert exercise.solution == bank_root / "solutions" / f"{SLUG}.py"
    assert [c.name for c in exercise.checks] == ["adds_one", "returns_int"]
    assert exercise.limits.call_seconds == 10.0  # defaults when [limits] is absent


def test_a_good_exercise_has_no_problems(bank_root):
    exercise = Bank(bank_root).exercise(SLUG)
    assert metadata_problems(exercise) == []
    assert notebook_problems(exercise) == []


def test_examples_can_be_configured_per_check(bank_root):
    edit(folder(bank_root) / "exercise.toml", "[entry_points]", "[checks.adds_one]\nexamples = 3\n\n[entry_points]")
    exercise = Bank(bank_root).exercise(SLUG)
    assert [exercise.examples_for(c) for c in exercise.checks] == [3, 20]
    assert metadata_problems(exercise) == []


# ----------------------------------------------------------------------------- metadata problems
def test_points_that_do_not_add_up_are_a_problem(bank_root):
    edit(folder(bank_root) / "exercise.toml", "points = 5", "points = 6")
    assert problems_of(bank_root) == ["the checks are worth 5 points but exercise.toml says 6"]


def test_points_of_the_forbidden_api_check_count_towards_the_total(bank_root):
    edit(folder(bank_root) / "exercise.toml", 'forbidden = []',
         'forbidden = ["torch.optim"]\n\n[checks.avoids_forbidden_apis]\npoints = 1')
    assert problems_of(bank_root) == ["the checks are worth 6 points but exercise.toml says 5"]
    edit(folder(bank_root) / "exercise.toml", "points = 5", "points = 6")
    assert problems_of(bank_root) == []


def test_stub_fails_naming_an_unknown_check_is_a_problem(bank_root):
    edit(folder(bank_root) / "exercise.toml", 'stub_fails = ["adds_one"]', 'stub_fails = ["adds_two"]')
    assert problems_of(bank_root) == ["stub_fails names 'adds_two', which is not a check"]


def test_an_empty_stub_fails_is_a_problem(bank_root):
    edit(folder(bank_root) / "exercise.toml", 'stub_fails = ["adds_one"]', "stub_fails = []")
    assert problems_of(bank_root) == ["exercise.toml: stub_fails must name the check the stub's bug targets"]


def test_settings_for_an_unknown_check_are_a_problem(bank_root):
    edit(folder(bank_root) / "exercise.toml", "[entry_points]", "[checks.adds_too]\nexamples = 3\n\n[entry_points]")
    assert problems_of(bank_root) == ["exercise.toml configures 'adds_too', which is not a check"]


@pytest.mark.parametrize("name", [n for n in REQUIRED_FILES if n not in ("exercise.toml", "checks.py")])
def test_a_missing_file_is_a_problem_naming_it(bank_root, name):
    (folder(bank_root) / name).unlink()
    assert problems_of(bank_root) == [f"{name} is missing"]


def test_a_missing_checks_file_is_a_problem_naming_it(bank_root):
    (folder(bank_root) / "checks.py").unlink()
    problems = problems_of(bank_root)
    assert problems[0] == "checks.py is missing"
    assert all("Traceback" not in p for p in problems)


def test_a_missing_solution_is_a_problem(bank_root):
    (bank_root / "solutions" / f"{SLUG}.py").unlink()
    assert problems_of(bank_root) == [f"solutions/{SLUG}.py is missing"]


def test_a_check_without_description_is_a_problem(bank_root):
    edit(folder(bank_root) / "checks.py", 'description="Returns an int."', 'description="  "')
    assert problems_of(bank_root) == ["check returns_int has no description"]


def test_a_check_worth_no_points_is_a_problem(bank_root):
    edit(folder(bank_root) / "checks.py", "points=2", "points=0")
    edit(folder(bank_root) / "exercise.toml", "points = 5", "points = 3")
    assert problems_of(bank_root) == ["check returns_int is worth no points"]


def test_checks_that_define_no_check_are_a_problem(bank_root):
    (folder(bank_root) / "checks.py").write_text("X = 1\n")
    assert problems_of(bank_root) == ["checks.py defines no checks"]


def test_an_empty_title_or_no_entry_points_are_problems(bank_root):
    edit(folder(bank_root) / "exercise.toml", 'title = "Adds one"', 'title = " "')
    edit(folder(bank_root) / "exercise.toml", 'add_one = ["x"]', "")
    assert problems_of(bank_root) == ["exercise.toml needs a non-empty title and summary",
                                      "exercise.toml names no entry points"]


@pytest.mark.parametrize("code, shown", [
    ("raise RuntimeError('boom')\n", "RuntimeError: boom"),
    ("def broken(:\n", "SyntaxError"),
    ("import no_such_module_for_grader_tests\n", "ModuleNotFoundError"),
], ids=["raises", "syntax-error", "bad-import"])
def test_checks_that_fail_to_import_are_a_one_line_problem(bank_root, code, shown):
    (folder(bank_root) / "checks.py").write_text(code)
    problems = problems_of(bank_root)
    assert len(problems) == 1
    assert "checks.py failed to import" in problems[0] and shown in problems[0]
    assert "Traceback" not in problems[0] and "\n" not in problems[0]


def test_importing_broken_checks_raises_a_bank_error(bank_root):
    (folder(bank_root) / "checks.py").write_text("1 / 0\n")
    with pytest.raises(BankError, match="failed to import: ZeroDivisionError"):
        Bank(bank_root).exercise(SLUG).checks


# ----------------------------------------------------------------------------- notebook problems
def test_a_stale_notebook_is_a_problem(bank_root):
    (folder(bank_root) / "stub.py").write_text(STUB + "\n# %%\nprint(add_one(1))\n")
    assert notebook_problems(Bank(bank_root).exercise(SLUG)) == [
        "stub.ipynb is out of sync with stub.py (run `grader release --update-bank`)"]


def test_a_notebook_generated_with_another_title_is_stale(bank_root):
    edit(folder(bank_root) / "exercise.toml", 'title = "Adds one"', 'title = "Adds 1"')
    assert len(notebook_problems(Bank(bank_root).exercise(SLUG))) == 1


def test_a_missing_notebook_is_left_to_the_metadata_check(bank_root):
    (folder(bank_root) / "stub.ipynb").unlink()
    assert notebook_problems(Bank(bank_root).exercise(SLUG)) == []


# ----------------------------------------------------------------------------- exercise.toml errors
@pytest.mark.parametrize("toml, shown", [
    ("title = ", "not valid TOML"),
    (TOML.replace('summary = "A tiny exercise for the unit tests."\n', ""), "'summary'"),
    (TOML.replace("[entry_points]\nadd_one = [\"x\"]\n", ""), "'entry_points'"),
    (TOML + "\n[limits]\nwall_secs = 3\n", "malformed"),
], ids=["bad-toml", "no-summary", "no-entry-points", "unknown-limit"])
def test_a_malformed_exercise_toml_is_a_bank_error(bank_root, toml, shown):
    (folder(bank_root) / "exercise.toml").write_text(toml)
    with pytest.raises(BankError) as info:
        Bank(bank_root).exercise(SLUG)
    assert "exercise.toml" in str(info.value) and shown in str(info.value)


def test_a_non_numeric_points_value_is_a_bank_error(bank_root):
    edit(folder(bank_root) / "exercise.toml", "points = 5", 'points = "five"')
    with pytest.raises(BankError, match="exercise.toml"):
        Bank(bank_root).exercise(SLUG)


# ----------------------------------------------------------------------------- locating the bank
def test_locate_honours_grader_bank(bank_root, tmp_path_factory):
    elsewhere = tmp_path_factory.mktemp("elsewhere")
    bank = Bank.locate(environ={"GRADER_BANK": str(bank_root)}, cwd=elsewhere)
    assert bank.root == bank_root.resolve()
    assert bank.slugs() == [SLUG]


def test_locate_falls_back_to_the_working_directory(bank_root):
    assert Bank.locate(environ={}, cwd=bank_root).root == bank_root.resolve()
    assert Bank.locate(environ={"GRADER_BANK": ""}, cwd=bank_root).root == bank_root.resolve()


def test_locate_without_an_exercises_folder_explains_what_is_expected(tmp_path):
    with pytest.raises(BankError) as info:
        Bank.locate(environ={"GRADER_BANK": str(tmp_path)})
    message = str(info.value)
    assert str(tmp_path.resolve()) in message
    assert "'exercises' folder" in message and "GRADER_BANK" in message


def test_locate_ignores_the_working_directory_when_grader_bank_is_set(bank_root, tmp_path_factory):
    empty = tmp_path_factory.mktemp("empty")
    with pytest.raises(BankError):
        Bank.locate(environ={"GRADER_BANK": str(empty)}, cwd=bank_root)


def test_an_unknown_slug_lists_the_known_exercises(bank_root):
    (bank_root / "exercises" / "b-other").mkdir()
    (bank_root / "exercises" / "b-other" / "exercise.toml").write_text(TOML)
    (bank_root / "exercises" / "not-an-exercise").mkdir()
    with pytest.raises(BankError) as info:
        Bank(bank_root).exercise("adds-two")
    assert str(info.value) == "unknown exercise 'adds-two' (known: adds-one, b-other)"


def test_an_unknown_slug_in_an_empty_bank_says_none_are_known(tmp_path):
    (tmp_path / "exercises").mkdir()
    with pytest.raises(BankError, match=r"\(known: none\)"):
        Bank(tmp_path).exercise("anything")


def test_exercises_loads_all_exercises_in_slug_order(bank_root):
    (bank_root / "exercises" / "a-first").mkdir()
    (bank_root / "exercises" / "a-first" / "exercise.toml").write_text(TOML)
    assert [e.slug for e in Bank(bank_root).exercises()] == ["a-first", SLUG]
    assert [e.slug for e in Bank(bank_root).exercises([SLUG])] == [SLUG]
