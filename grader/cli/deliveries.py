"""``grader deliveries [--failed]`` and ``grader deliveries replay ID``: the grade outbox."""

from __future__ import annotations

import datetime as dt

import click

from grader.cli.base import main
from grader.cli.service import INSTANCE_OPTION, course_or_error, instance_database

LAST_ERROR_WIDTH = 80


@main.group(invoke_without_command=True)
@INSTANCE_OPTION
@click.option("--failed", "failed_only", is_flag=True, help="Only deliveries that failed or were disabled.")
@click.option("--course", "course_id", metavar="ID", help="Only grades of this course.")
@click.option("--limit", default=50, show_default=True, type=click.IntRange(1, 10_000),
              help="Show at most this many, newest first.")
@click.pass_context
def deliveries(ctx: click.Context, instance_path: str | None, failed_only: bool, course_id: str | None,
               limit: int) -> None:
    """Grades on their way to course platforms (webhook callbacks, LTI AGS), newest first.

    Each graded run of a submission that came from a platform has one delivery per
    destination. Pending ones are retried with backoff for `delivery_horizon_hours`
    (24 h); a 4xx answer fails at once, 410 Gone disables the destination. Every attempt
    of a delivery carries the same webhook-id, so `replay` is safe for receivers that
    deduplicate.

    \b
    Examples:
      grader deliveries                      # the last 50, all statuses
      grader deliveries --failed --course demo
      grader deliveries replay 17            # send delivery 17 again now
    """
    if ctx.invoked_subcommand is not None:
        return
    from grader.lms import outbox

    with instance_database(instance_path) as (_, database), database.reading() as session:
        if course_id is not None:
            course_or_error(session, course_id)
        rows = [_row(d) for d in outbox.list_deliveries(session, failed_only=failed_only, course_id=course_id,
                                                        limit=limit)]
    if not rows:
        click.echo("no failed deliveries" if failed_only else "no deliveries", err=True)
        return
    _table(("ID", "STATUS", "ATTEMPTS", "DESTINATION", "HTTP", "NEXT/DELIVERED", "LAST ERROR"), rows)


@deliveries.command("replay")
@INSTANCE_OPTION
@click.argument("delivery_id", metavar="ID", type=int)
def replay(instance_path: str | None, delivery_id: int) -> None:
    """Send delivery ID again now (failed, disabled or delivered ones).

    The message id stays the same; a disabled destination is enabled again. The running
    `grader serve` sends it within a second.

    \b
    Example:
      grader deliveries replay 17
    """
    from grader.lms import outbox

    with instance_database(instance_path) as (_, database):
        try:
            with database.unit_of_work() as session:
                row = outbox.replay(session, delivery_id)
                shown = (row.id, row.message_id, row.target.url)
        except outbox.ReplayError as exc:
            raise click.ClickException(str(exc)) from None
    click.echo(f"delivery {shown[0]} ({shown[1]}) to {shown[2]} is pending again; it is sent within a second")


def _row(delivery) -> tuple[str, ...]:  # noqa: ANN001
    when = delivery.delivered_at if delivery.status == "delivered" else (
        delivery.next_attempt_at if delivery.status == "pending" else None)
    error = " ".join((delivery.last_error or "").split())
    if len(error) > LAST_ERROR_WIDTH:
        error = error[:LAST_ERROR_WIDTH - 3] + "..."
    return (str(delivery.id), delivery.status, str(delivery.attempts),
            f"{delivery.target.kind} {delivery.target.url}", str(delivery.last_status or "-"),
            _time(when), error or "-")


def _time(moment: dt.datetime | None) -> str:
    return "-" if moment is None else moment.astimezone(dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S")


def _table(header: tuple[str, ...], rows: list[tuple[str, ...]]) -> None:
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header) - 1)]
    for row in [header, *rows]:
        click.echo("  ".join(cell.ljust(width) for cell, width in zip(row, widths)) + "  " + row[-1])
