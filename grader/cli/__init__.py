"""The ``grader`` command line: thin commands over the engine, the store and the queue.

``base`` holds the group; each module adds its commands: ``engine`` (check, grade, ...),
``service`` (serve, db), ``admin`` (users, tokens, regrade), ``export`` and ``submit``.
"""

from __future__ import annotations


def main() -> None:
    from grader.cli import (admin, deliveries, engine, export, i18n, lti, serve, service, sources,  # noqa: F401
                            submit, worker)  # - they add the commands
    from grader.cli.base import main as group

    group()
