"""The ``grader`` command line: thin commands over the engine, the store and the queue."""

from __future__ import annotations


def main() -> None:
    from grader.cli import engine  # noqa: F401 - the engine's commands
    from grader.cli.base import main as group

    group()
