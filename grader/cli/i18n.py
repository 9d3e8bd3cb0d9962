"""``grader i18n extract|update|status``: keeping the message catalogues complete."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from grader.cli.base import EXIT_PROBLEMS, main

ROOT_OPTION = click.option("--root", type=click.Path(path_type=Path, file_okay=False), default=Path("."),
                           show_default=True, help="The project checkout (where babel.cfg is).")


@main.group()
def i18n() -> None:
    """The translations of the feedback, the pages and the statements (en, zh_Hans, ru).

    \b
    After changing a message in the code:
      grader i18n extract      # write grader/translations/messages.pot from the sources
      grader i18n update       # merge it into the zh_Hans and ru catalogues
      grader i18n status       # what is untranslated, fuzzy, or has other placeholders
    """


@i18n.command()
@ROOT_OPTION
def extract(root: Path) -> None:
    """Extract every marked message (T, TN, N_, gettext) into messages.pot."""
    from grader.i18n import maintain

    if not (root / "babel.cfg").is_file():
        raise click.ClickException(f"{root / 'babel.cfg'} does not exist: run this in the project checkout")
    click.echo(f"wrote {maintain.extract(root.resolve())}")


@i18n.command()
def update() -> None:
    """Merge messages.pot into each language's messages.po."""
    from grader.i18n import maintain

    for path in maintain.update():
        click.echo(f"updated {path}")


@i18n.command()
def status() -> None:
    """List the messages a catalogue lacks; exits 1 if there is any."""
    from grader.i18n import maintain

    problems = maintain.problems()
    for problem in problems[:200]:
        click.echo(f"{problem.locale:<8} {problem.kind:<13} {problem.msgid[:90]!r} {problem.detail}")
    if problems:
        click.echo(f"{len(problems)} problem(s)")
        sys.exit(EXIT_PROBLEMS)
    click.echo("every message is translated in every language")
