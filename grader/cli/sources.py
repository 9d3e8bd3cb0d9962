"""``grader sources add|rotate|list``: the platforms that send submissions by webhook.

A secret is printed once, when it is made; only the platform and this instance's database
know it afterwards (HMAC needs the secret itself, so it cannot be kept as a hash)."""

from __future__ import annotations

import datetime as dt

import click

from grader.cli.base import main
from grader.cli.service import INSTANCE_OPTION, instance_database


@main.group()
def sources() -> None:
    """Webhook sources: platforms that POST submissions to /api/v1/webhooks/NAME.

    \b
    Examples:
      grader sources add canvas --callback-allow https://canvas.example.edu/grades/
      grader sources rotate canvas --grace-hours 48
      grader sources list
    """


def _hint(name: str) -> str:
    return (f"Sign each POST to /api/v1/webhooks/{name} with it (Standard Webhooks: webhook-id, "
            "webhook-timestamp, webhook-signature headers).")


@sources.command("add")
@INSTANCE_OPTION
@click.argument("name")
@click.option("--callback-allow", "callback_allow", multiple=True, metavar="URL-PREFIX",
              help="A URL prefix the source may name as reply_to.callback (repeatable). "
                   "Without one, the source cannot ask for callbacks.")
def add(instance_path: str | None, name: str, callback_allow: tuple[str, ...]) -> None:
    """Register the source NAME and print its first secret, once.

    \b
    Examples:
      grader sources add moodle
      grader sources add canvas --callback-allow https://canvas.example.edu/grades/ \\
                                --callback-allow https://backup.example.edu/hooks
    """
    from grader.lms import sources as service

    with instance_database(instance_path) as (_, database):
        try:
            with database.unit_of_work() as session:
                source, secret = service.add_source(session, name, list(callback_allow))
                allowed = list(source.callback_allow)
        except service.SourceError as exc:
            raise click.ClickException(str(exc)) from None
    click.echo(f"created source {name}; callbacks allowed under: {', '.join(allowed) or 'none'}", err=True)
    click.echo(f"{_hint(name)} The secret is shown once:", err=True)
    click.echo(secret)


@sources.command("rotate")
@INSTANCE_OPTION
@click.argument("name")
@click.option("--grace-hours", type=click.FloatRange(min=0), default=24.0, show_default=True,
              help="How long the current secret(s) stay valid beside the new one (0: expire at once).")
def rotate(instance_path: str | None, name: str, grace_hours: float) -> None:
    """Add a new secret to the source NAME and print it, once.

    The old secret keeps verifying for --grace-hours, so the platform can switch without
    a refused delivery. Callbacks to the source are signed with the new secret at once.

    \b
    Examples:
      grader sources rotate canvas
      grader sources rotate canvas --grace-hours 0     # the old secret leaked: stop it now
    """
    from grader.lms import sources as service

    grace = dt.timedelta(hours=grace_hours)
    with instance_database(instance_path) as (_, database):
        try:
            with database.unit_of_work() as session:
                secret = service.rotate_secret(session, name, grace)
        except service.SourceError as exc:
            raise click.ClickException(str(exc)) from None
    until = "now" if grace_hours == 0 else f"in {grace_hours:g} h"
    click.echo(f"new secret for {name}; the previous secret(s) stop verifying {until}.", err=True)
    click.echo(f"{_hint(name)} The secret is shown once:", err=True)
    click.echo(secret)


@sources.command("list")
@INSTANCE_OPTION
def list_sources(instance_path: str | None) -> None:
    """List the sources: name, callback allow-list, valid secrets, created.

    \b
    Example:
      grader sources list
    """
    from grader.cli.admin import _table
    from grader.lms import sources as service
    from grader.store.models import utcnow

    with instance_database(instance_path) as (_, database), database.reading() as session:
        now = utcnow()
        rows = [(source.name, str(len(service.valid_secrets(session, source, now))),
                 source.created_at.strftime("%Y-%m-%d %H:%M UTC"), " ".join(source.callback_allow or []) or "-")
                for source in service.list_sources(session)]
    if not rows:
        click.echo("no sources (add one: grader sources add NAME)", err=True)
        return
    _table(("NAME", "SECRETS", "CREATED", "CALLBACK ALLOW-LIST"), rows)
