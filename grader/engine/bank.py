"""The exercise bank: ``exercises/<slug>/`` folders and ``solutions/<slug>.py``.

An exercise folder holds ``exercise.toml`` (metadata, contract, limits), ``README.md`` (the
statement), ``stub.py`` (the buggy starter) and its generated ``stub.ipynb``, ``checks.py``
(properties, run in the trusted process) and ``driver.py`` (runs in the sandbox, next to
the student's code, and speaks plain data only).
"""

from __future__ import annotations

import functools
import importlib.util
import os
import sys
import tomllib
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

from grader.checks import Check
from grader.i18n.locales import DEFAULT, short

REQUIRED_FILES = ("exercise.toml", "README.md", "stub.py", "stub.ipynb", "checks.py", "driver.py")


class BankError(Exception):
    """The bank (or one exercise in it) is missing or malformed."""


@dataclass(frozen=True)
class Limits:
    wall_seconds: float = 30.0  # the whole submission, all checks
    call_seconds: float = 10.0  # one call into the student's code
    cpu_seconds: int = 60
    memory_mb: int = 1024


@dataclass
class Exercise:
    slug: str
    folder: Path
    title: str
    summary: str
    points: float
    entry_points: dict[str, list[str]]
    stub_fails: list[str]
    forbidden: list[str] = field(default_factory=list)
    limits: Limits = field(default_factory=Limits)
    check_settings: dict[str, dict[str, Any]] = field(default_factory=dict)
    solution: Path | None = None

    @classmethod
    def load(cls, folder: Path, solutions: Path) -> "Exercise":
        meta_path = folder / "exercise.toml"
        try:
            meta = tomllib.loads(meta_path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise BankError(f"{meta_path} is missing") from None
        except tomllib.TOMLDecodeError as exc:
            raise BankError(f"{meta_path} is not valid TOML: {exc}") from None
        try:
            for key in ("stub_fails", "forbidden"):
                if not isinstance(meta.get(key, []), list):
                    raise TypeError(f"{key} must be a list of names")
            limits = Limits(**meta.get("limits", {}))
            solution = solutions / f"{folder.name}.py"
            return cls(
                slug=folder.name, folder=folder, title=str(meta["title"]),
                summary=str(meta["summary"]), points=float(meta["points"]),
                entry_points={k: list(v) for k, v in meta["entry_points"].items()},
                stub_fails=list(meta["stub_fails"]), forbidden=list(meta.get("forbidden", [])),
                limits=limits, check_settings=dict(meta.get("checks", {})),
                solution=solution if solution.exists() else None)
        except (KeyError, TypeError, AttributeError, ValueError) as exc:
            raise BankError(f"{meta_path}: missing or malformed field ({exc})") from None

    @cached_property
    def checks(self) -> list[Check]:
        """The checks of ``checks.py``, in the order they are defined."""
        path = self.folder / "checks.py"
        name = f"grader_bank_checks_{self.slug.replace('-', '_')}"
        # Loaded as a package rooted at the exercise folder, so that a long checks.py can keep
        # its helpers in sibling modules (``from .twin import replay``).
        spec = importlib.util.spec_from_file_location(name, path,
                                                      submodule_search_locations=[str(self.folder)])
        if spec is None or spec.loader is None:
            raise BankError(f"{path} cannot be imported")
        # A reload (a worker picking up a fixed check) must not reuse stale sibling modules.
        for stale in [m for m in sys.modules if m == name or m.startswith(name + ".")]:
            del sys.modules[stale]
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        try:
            spec.loader.exec_module(module)
        except Exception as exc:
            raise BankError(f"{path} failed to import: {type(exc).__name__}: {exc}") from exc
        return [v for v in vars(module).values() if isinstance(v, Check)]

    def examples_for(self, check: Check) -> int:
        return int(self.check_settings.get(check.name, {}).get("examples", check.examples))

    @property
    def driver_source(self) -> str:
        return (self.folder / "driver.py").read_text(encoding="utf-8")

    @property
    def stub_path(self) -> Path:
        return self.folder / "stub.py"

    @property
    def notebook_path(self) -> Path:
        return self.folder / "stub.ipynb"

    @property
    def statement(self) -> str:
        return (self.folder / "README.md").read_text(encoding="utf-8")

    def statement_path(self, locale: str = "en") -> Path:
        """``README.md`` (English) or its translation ``README.<zh|ru>.md``."""
        return statement_file(self.folder, locale)

    def statement_in(self, locale: str) -> str:
        """The statement in ``locale``; the English one where that translation is missing."""
        path = self.statement_path(locale)
        return path.read_text(encoding="utf-8") if path.is_file() else self.statement

    def title_in(self, locale: str) -> str:
        """The first heading of the statement in ``locale`` (the toml's title in English)."""
        return translated_title(self.folder, locale) or self.title


def statement_file(folder: Path, locale: str) -> Path:
    return folder / ("README.md" if locale == DEFAULT else f"README.{short(locale)}.md")


def translated_title(folder: Path, locale: str) -> str | None:
    """The first heading of the translated statement in ``folder``; None in English or where
    there is none. Read once per version of the file: pages ask for it in every table cell."""
    if locale == DEFAULT:
        return None
    path = statement_file(folder, locale)
    try:
        modified = path.stat().st_mtime_ns
    except OSError:
        return None
    return _first_heading(str(path), modified)


@functools.lru_cache(maxsize=256)
def _first_heading(path: str, modified: int) -> str | None:  # noqa: ARG001 - part of the cache key
    with open(path, encoding="utf-8") as handle:
        for line in handle:
            if line.startswith("# "):
                return line[2:].strip()
    return None


@dataclass
class Bank:
    root: Path

    @property
    def exercises_dir(self) -> Path:
        return self.root / "exercises"

    @property
    def solutions_dir(self) -> Path:
        return self.root / "solutions"

    @classmethod
    def locate(cls, environ: dict[str, str] | None = None, cwd: Path | None = None) -> "Bank":
        """``$GRADER_BANK`` if set, else the current directory."""
        environ = os.environ if environ is None else environ
        root = Path(environ.get("GRADER_BANK") or (cwd or Path.cwd())).resolve()
        if not (root / "exercises").is_dir():
            raise BankError(f"no exercise bank at {root}: expected an 'exercises' folder there "
                            "(run from the bank's folder, or set GRADER_BANK)")
        return cls(root)

    def slugs(self) -> list[str]:
        return sorted(p.name for p in self.exercises_dir.iterdir()
                      if p.is_dir() and (p / "exercise.toml").exists())

    def title_in(self, slug: str, locale: str) -> str | None:
        """The translated title of exercise ``slug`` without loading the exercise (None in
        English or without a translation)."""
        return translated_title(self.exercises_dir / slug, locale)

    def exercise(self, slug: str) -> Exercise:
        folder = self.exercises_dir / slug
        if not (folder / "exercise.toml").exists():
            known = ", ".join(self.slugs()) or "none"
            raise BankError(f"unknown exercise {slug!r} (known: {known})")
        return Exercise.load(folder, self.solutions_dir)

    def exercises(self, slugs: list[str] | None = None) -> list[Exercise]:
        return [self.exercise(s) for s in (slugs or self.slugs())]
