"""``grader release``: the student bundle of an exercise (statement, stub, notebook).

Reference solutions, checks and drivers are never part of a bundle.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from grader.engine.bank import Exercise
from grader.engine.notebooks import stub_to_notebook

BUNDLE_FILES = ("README.md", "stub.py", "stub.ipynb")


def notebook_for(exercise: Exercise) -> str:
    return stub_to_notebook(exercise.stub_path.read_text(encoding="utf-8"), exercise.title)


def update_bank_notebook(exercise: Exercise) -> bool:
    """Regenerate ``exercises/<slug>/stub.ipynb``; returns whether it changed."""
    text = notebook_for(exercise)
    path = exercise.notebook_path
    if path.exists() and path.read_text(encoding="utf-8") == text:
        return False
    path.write_text(text, encoding="utf-8")
    return True


def write_bundle(exercise: Exercise, out: Path, locale: str = "en") -> Path:
    """The bundle with the statement in ``locale`` as its README.md (the stub stays English:
    code is code)."""
    target = out / exercise.slug
    target.mkdir(parents=True, exist_ok=True)
    (target / "README.md").write_text(exercise.statement_in(locale), encoding="utf-8")
    shutil.copyfile(exercise.stub_path, target / "stub.py")
    (target / "stub.ipynb").write_text(notebook_for(exercise), encoding="utf-8")
    return target
