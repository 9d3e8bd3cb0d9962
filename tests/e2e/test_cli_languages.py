"""``grader grade --lang``, ``LANG``, ``grader release --lang`` and ``grader check`` on
translations, as real processes."""

from __future__ import annotations

import json
import os
import re
import shutil

import pytest
from test_cli import ROOT, SLUG, grader

from grader.i18n import localize

STUB = ROOT / "exercises" / SLUG / "stub.py"
CJK = re.compile(r"[\u4e00-\u9fff]")
CYRILLIC = re.compile(r"[\u0400-\u04ff]")

# Each test starts `grader` (and torch) in a process of its own: with the slow suites.
pytestmark = pytest.mark.slow


def graded_json(*options: str, env: dict | None = None) -> dict:
    run = grader("grade", "-e", SLUG, "--json", *options, str(STUB), env=env)
    assert run.returncode == 0, run.stderr
    (line,) = run.stdout.splitlines()
    return json.loads(line)


def test_grade_json_in_russian_translates_the_texts_but_not_the_identifiers():
    english, russian = graded_json("--lang", "en"), graded_json("--lang", "ru")
    assert [(c["name"], c["verdict"], c["points"]) for c in russian["checks"]] == \
        [(c["name"], c["verdict"], c["points"]) for c in english["checks"]]
    assert set(russian) == set(english) and "i18n" not in russian
    for check in russian["checks"]:
        assert CYRILLIC.search(check["description"])
        if check["verdict"] == "failed":
            assert CYRILLIC.search(check["message"]) and CYRILLIC.search(check["hint"])
            assert check["counterexample"] == next(c for c in english["checks"]
                                                   if c["name"] == check["name"])["counterexample"]
    assert russian["score"] == english["score"]


def test_grade_takes_its_language_from_lang():
    run = grader("grade", "-e", SLUG, str(STUB), env={**os.environ, "LANG": "zh_CN.UTF-8"})
    assert run.returncode == 0, run.stderr
    for label in ("Smallest failing input", "Hint", "Checks"):
        assert localize.gettext("zh_Hans", label) + ":" in run.stdout
    assert "FAILED" in run.stdout and "returns_leaf_parameters" in run.stdout  # verdict codes, check names
    assert CJK.search(run.stdout)


def test_an_unknown_language_is_a_clear_error():
    run = grader("grade", "-e", SLUG, "--lang", "klingon", str(STUB))
    assert run.returncode == 2 and "not a supported language: use en, zh or ru" in run.stderr
    assert "Traceback" not in run.stderr


def test_release_writes_the_statement_in_the_asked_language(tmp_path):
    run = grader("release", SLUG, "--lang", "zh", "--out", str(tmp_path))
    assert run.returncode == 0, run.stderr
    bundle = tmp_path / SLUG
    assert (bundle / "README.md").read_text() == (ROOT / "exercises" / SLUG / "README.zh.md").read_text()
    assert (bundle / "stub.py").read_bytes() == STUB.read_bytes(), "the stub stays English: code is code"


def test_check_reports_a_missing_translation_and_a_changed_code_block(tmp_path):
    shutil.copytree(ROOT / "exercises", tmp_path / "exercises")
    shutil.copytree(ROOT / "solutions", tmp_path / "solutions")
    folder = tmp_path / "exercises" / SLUG
    (folder / "README.ru.md").unlink()
    chinese = (folder / "README.zh.md").read_text()
    (folder / "README.zh.md").write_text(chinese.replace("steps=500", "steps=5000", 1))
    run = grader("check", SLUG, cwd=tmp_path)
    assert run.returncode == 1
    assert "README.ru.md is missing" in run.stdout and "README.zh.md: code block(s) 2 differ" in run.stdout
