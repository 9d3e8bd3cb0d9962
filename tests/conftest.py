"""Shared fixtures: the repository's exercise bank and one warm sandbox per test session."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from grader.engine.bank import Bank
from grader.sandbox.client import Sandbox, SandboxSettings

ROOT = Path(__file__).resolve().parents[1]

pytest_plugins = ["service_fixtures"]

# The CLI takes its feedback language from the environment: the tests read English unless
# they ask for another language, whatever the machine's locale.
for _name in ("LC_ALL", "LC_MESSAGES"):
    os.environ.pop(_name, None)
os.environ["LANG"] = "C.UTF-8"


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--run-slow", action="store_true", default=False,
                     help="also run the slow suites and the PostgreSQL half of the database tests (CI runs them)")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:  # the PostgreSQL half of the database tests runs with the slow suites
        if getattr(item, "callspec", None) and item.callspec.params.get("database_url") == "postgresql":
            item.add_marker(pytest.mark.slow)
    if config.getoption("--run-slow"):
        return
    skip = pytest.mark.skip(reason="slow: run with --run-slow")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def bank() -> Bank:
    return Bank(ROOT)


@pytest.fixture(scope="session")
def sandbox(bank: Bank):
    """One fork server for the whole session, configured as the CLI configures it."""
    settings = SandboxSettings(forbidden_paths=(str(bank.solutions_dir), str(bank.exercises_dir)))
    with Sandbox(settings) as box:
        yield box
