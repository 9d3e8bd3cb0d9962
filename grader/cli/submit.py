"""``grader submit``: send a file to the grading service and print its grade, as ``grader grade``
prints a local one. The HTTP work is :mod:`grader.client`'s; this is the terminal side."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from grader.cli.base import EXIT_PROBLEMS, main


class StatusLine:
    """``queued (position 3)… grading… done`` on stderr. On a terminal the line is rewritten as
    the position moves; elsewhere (a notebook's ``!`` cell, a log) each new status is appended
    once, so the output stays one readable line."""

    def __init__(self) -> None:
        self.tty = sys.stderr.isatty()
        self.parts: list[str] = []
        self.status: str | None = None
        self.open = False

    def __call__(self, status: str, position: int | None) -> None:
        label = {"queued": f"queued (position {position})" if position else "queued",
                 "running": "grading", "graded": "done", "failed": "failed"}.get(status, status)
        if status == self.status:
            if not self.tty or self.parts[-1] == label:
                return
            self.parts[-1] = label
        else:
            self.status = status
            self.parts.append(label)
        if self.tty:
            click.echo("\r\033[K" + "… ".join(self.parts), err=True, nl=False)
        else:
            click.echo(("… " if len(self.parts) > 1 else "") + label, err=True, nl=False)
        self.open = True
        if status in ("graded", "failed"):
            self.end()

    def end(self) -> None:
        if self.open:
            click.echo("", err=True)
            self.open = False


@main.command()
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--exercise", "-e", "slug", required=True, help="The exercise's slug.")
@click.option("--course", metavar="ID", help="The course to submit in (default: yours that has the exercise).")
@click.option("--server", metavar="URL", help="The grading service, e.g. https://grader.example.edu "
              "(default: $GRADER_SERVER, then the client config file).")
@click.option("--token", metavar="TOKEN", help="Your API token (default: $GRADER_TOKEN, then the client config file).")
@click.option("--json", "as_json", is_flag=True,
              help="Print one JSON object: that of `grader grade --json`, plus id and url.")
@click.option("--no-wait", is_flag=True, help="Only upload; print the submission's id and address.")
@click.option("--timeout", default=300.0, show_default=True, metavar="S", type=click.FloatRange(0, min_open=True),
              help="Give up waiting for the grade after S seconds (the grade still comes; read it later).")
def submit(file: Path, slug: str, course: str | None, server: str | None, token: str | None, as_json: bool,
           no_wait: bool, timeout: float) -> None:
    """Submit FILE (.py or .ipynb) to the grading service and print its grade.

    The report is the one `grader grade` prints. Exits 0 once the file is graded, whatever
    its score; 1 if the server cannot be reached, refuses the token or the file, could not
    grade it, or has not graded it within --timeout.

    \b
    Server and token: --server and --token, else $GRADER_SERVER and $GRADER_TOKEN, else
    ~/.config/torch-grader/client.toml ($GRADER_CLIENT_CONFIG names another file):
      server = "https://grader.example.edu"
      token = "tg_..."

    \b
    Examples:
      grader submit fix.py --exercise none-grad-after-rebinding
      grader submit fix.py -e none-grad-after-rebinding --json
      GRADER_TOKEN=tg_... grader submit fix.py -e none-grad-after-rebinding --server http://localhost:8000

    \b
    From a notebook cell (save the notebook first, then):
      !grader submit fix.ipynb -e none-grad-after-rebinding
    or in Python, where the cell shows the report:
      from grader.client import submit
      submit("fix.ipynb", "none-grad-after-rebinding")
    """
    from grader.client import Client, ClientError, Graded, settings, to_grade_result

    line, accepted = StatusLine(), None
    try:
        chosen = settings(server, token)
        client = Client(chosen.server, chosen.token)
        accepted = client.create(file, slug, course)
        if no_wait:
            _print_accepted(accepted, slug, as_json)
            return
        done = client.wait(accepted, timeout, line)
    except ClientError as exc:
        line.end()
        raise click.ClickException(str(exc)) from None
    except KeyboardInterrupt:
        line.end()
        if accepted is None:
            raise click.Abort() from None
        click.echo(f"stopped waiting; the submission will still be graded: {accepted['url']}", err=True)
        sys.exit(130)
    graded = Graded(id=int(done["id"]), url=accepted["url"], status=done["status"],
                    result=to_grade_result(str(file), done))
    if as_json:
        click.echo(json.dumps(graded.to_dict(), separators=(",", ":")))
    else:
        click.echo(graded.report() + "\n")
        click.echo(f"Submission {graded.id}: {graded.url}", err=True)
    if graded.status == "failed":
        sys.exit(EXIT_PROBLEMS)


def _print_accepted(accepted: dict, slug: str, as_json: bool) -> None:
    if as_json:
        click.echo(json.dumps(accepted, separators=(",", ":")))
        return
    position = f", position {accepted['queue_position']}" if accepted.get("queue_position") else ""
    click.echo(f"Submitted {accepted['id']} for {slug} ({accepted['status']}{position}).")
    if accepted.get("delayed"):
        click.echo("The queue is longer than usual: grading will take a while.")
    click.echo(accepted["url"])
