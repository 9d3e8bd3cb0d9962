"""Administration of an instance: ``grader users add|import|list``, ``grader tokens create``
and ``grader regrade``. Every command opens the instance's database (migrated first), works
in one unit of work, and prints what it did; a password or a token is shown once only."""

from __future__ import annotations

import sys
import time
from typing import TYPE_CHECKING, TextIO

import click

from grader.cli.base import EXIT_PROBLEMS, Context, main
from grader.cli.service import INSTANCE_OPTION, bank_of, course_or_error, instance_database

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from grader.config import Config
    from grader.engine.bank import Bank
    from grader.store.db import Database
    from grader.store.models import Course

COURSE_OPTION = click.option("--course", "course_id", metavar="ID",
                             help="Course id (default: the instance's default course, 'demo').")


def course_for(session: "Session", obj: Context, config: "Config", course_id: str | None) -> "Course":
    """The named course, which must exist. Only the default course is created when missing,
    with the whole bank in it (as on a first ``grader serve``), so its students can submit."""
    from grader.engine.bank import BankError
    from grader.store import accounts, catalog, seed
    from grader.store.models import Course

    course_id = course_id or config.default_course
    found = session.get(Course, course_id)
    if found is not None:
        return found
    if course_id != config.default_course:
        course_or_error(session, course_id)  # raises, naming the courses there are
    title = "Demo course: PyTorch autograd" if course_id == seed.DEMO_COURSE else None
    course = accounts.ensure_course(session, course_id, title)
    try:
        catalog.add_to_course(session, course, catalog.sync_exercises(session, bank_of(obj, config)))
        click.echo(f"created course {course_id} with every exercise of the bank", err=True)
    except (click.ClickException, BankError) as exc:
        message = exc.format_message() if isinstance(exc, click.ClickException) else str(exc)
        click.echo(f"created course {course_id} without exercises: {message}", err=True)
    return course


# ----------------------------------------------------------------------------- users
@main.group()
def users() -> None:
    """Accounts: add one, import a roster, list them."""


@users.command("add")
@INSTANCE_OPTION
@click.argument("email")
@click.option("--role", type=click.Choice(["student", "instructor"]), required=True, help="The account's role.")
@click.option("--name", default="", help="Display name (default: the part of the email before @).")
@COURSE_OPTION
@click.option("--password-stdin", is_flag=True,
              help="Read the password from the first line of stdin instead of generating one.")
@click.pass_obj
def add_user(obj: Context, instance_path: str | None, email: str, role: str, name: str, course_id: str | None,
             password_stdin: bool) -> None:
    """Create the account EMAIL and enrol it in a course.

    Without --password-stdin a password is generated and printed once.

    \b
    Examples:
      grader users add ada@example.edu --role instructor --name "Ada Lovelace"
      echo 'a long secret' | grader users add bob@example.edu --role student --password-stdin
    """
    from grader.store import accounts

    password = _password_from(click.get_text_stream("stdin")) if password_stdin else accounts.generate_password()
    with instance_database(instance_path) as (config, database):
        try:
            with database.unit_of_work() as session:
                course = course_for(session, obj, config, course_id)
                user = accounts.create_user(session, email, name, role, password)
                accounts.enrol(session, user, course, role)
                shown = (user.email, user.display_name, course.id)
        except accounts.AccountError as exc:
            raise click.ClickException(str(exc)) from None
    click.echo(f"created {role} {shown[0]} ({shown[1]}), enrolled in {shown[2]}")
    if not password_stdin:
        click.echo(f"password (shown once): {password}")


def _password_from(stream: TextIO) -> str:
    password = stream.readline().rstrip("\r\n")
    if not password:
        raise click.ClickException("--password-stdin: the first line of stdin is empty")
    return password


@users.command("import")
@INSTANCE_OPTION
@click.argument("file", type=click.File("r", encoding="utf-8-sig"))
@COURSE_OPTION
@click.pass_obj
def import_users(obj: Context, instance_path: str | None, file: TextIO, course_id: str | None) -> None:
    """Create and enrol the students of a CSV roster FILE (`-` reads stdin).

    Lines are `email,name`; a header line `email,name` is optional. New accounts get a
    generated password, printed once; existing accounts are only enrolled. Lines that cannot
    be read are listed and skipped, and then the command exits 1.

    \b
    Example:
      grader users import roster.csv --course autograd-2026
    """
    from grader.store import accounts

    try:
        text = file.read()
    except UnicodeDecodeError:
        raise click.ClickException(f"{file.name} is not UTF-8 text") from None
    with instance_database(instance_path) as (config, database):
        with database.unit_of_work() as session:
            course = course_for(session, obj, config, course_id)
            report = accounts.import_roster(session, text, course)
            course_id = course.id
    width = max((len(email) for email, _ in report.created), default=0)
    if report.created:
        click.echo("New accounts (the passwords are shown once):")
        for email, password in report.created:
            click.echo(f"  {email:<{width}}  {password}")
    for email in report.enrolled:
        click.echo(f"  {email}: existing account, enrolled")
    for error in report.errors:
        click.echo(f"skipped {error}", err=True)
    click.echo(f"{len(report.created)} created, {len(report.enrolled)} existing enrolled in {course_id}, "
               f"{len(report.errors)} line(s) skipped")
    if report.errors:
        sys.exit(EXIT_PROBLEMS)


@users.command("list")
@INSTANCE_OPTION
@click.option("--course", "course_id", metavar="ID", help="Only the members of this course.")
def list_users(instance_path: str | None, course_id: str | None) -> None:
    """List the accounts: email, name, role and courses.

    \b
    Example:
      grader users list --course demo
    """
    from sqlalchemy import select
    from sqlalchemy.orm import selectinload

    from grader.store.models import Enrolment, User

    with instance_database(instance_path) as (_, database), database.reading() as session:
        query = select(User).options(selectinload(User.enrolments)).order_by(User.email)
        if course_id is not None:
            course_or_error(session, course_id)
            query = query.join(Enrolment).where(Enrolment.course_id == course_id)
        rows = [(u.email, u.display_name, u.role, ", ".join(sorted(e.course_id for e in u.enrolments)) or "-")
                for u in session.scalars(query)]
    if not rows:
        click.echo("no users", err=True)
        return
    _table(("EMAIL", "NAME", "ROLE", "COURSES"), rows)


# ----------------------------------------------------------------------------- tokens
@main.group()
def tokens() -> None:
    """API tokens, for `grader submit` and scripts (Authorization: Bearer <token>)."""


@tokens.command("create")
@INSTANCE_OPTION
@click.argument("email")
@click.option("--name", default="", help="A label to tell the user's tokens apart, e.g. 'laptop'.")
def create_token(instance_path: str | None, email: str, name: str) -> None:
    """Create an API token for EMAIL and print it once, alone on the last line of stdout.

    \b
    Example:
      export GRADER_TOKEN=$(grader tokens create ada@example.edu --name laptop)
    """
    from grader.store import accounts

    with instance_database(instance_path) as (_, database):
        with database.unit_of_work() as session:
            user = accounts.user_by_email(session, email)
            if user is None:
                raise click.ClickException(f"no user with email {email!r} (add one: grader users add)")
            token, address = accounts.create_token(session, user, name), user.email
    label = f" ({name})" if name else ""
    click.echo(f"API token for {address}{label}. It is shown once; keep it secret. Use it with "
               "--token, GRADER_TOKEN, or token = \"...\" in ~/.config/torch-grader/client.toml:", err=True)
    click.echo(token)


# ----------------------------------------------------------------------------- regrade
@main.command()
@INSTANCE_OPTION
@click.option("--exercise", "slug", metavar="SLUG", help="Every submission to this exercise.")
@click.option("--user", "email", metavar="EMAIL", help="Every submission of this user.")
@click.option("--submission", "submission_id", type=click.IntRange(1), metavar="ID", help="This submission.")
@click.option("--all", "everything", is_flag=True, help="Every submission.")
@click.option("--course", "course_id", metavar="ID", help="Only submissions made in this course.")
@click.option("--reason", default="", help="Why, kept with each regrade (e.g. 'fixed tolerance of check x').")
@click.option("--dry-run", is_flag=True, help="List what would be regraded; change nothing.")
@click.option("--wait", is_flag=True, help="Wait until `grader serve`'s workers have graded every new run.")
@click.pass_obj
def regrade(obj: Context, instance_path: str | None, slug: str | None, email: str | None,
            submission_id: int | None, everything: bool, course_id: str | None, reason: str, dry_run: bool,
            wait: bool) -> None:
    """Grade submissions again, after a check was fixed. Say which with exactly one of
    --exercise, --user, --submission or --all.

    The bank's exercises are synced first, so the new runs record the new content hash.
    Every regrade is a new run: the old runs and their scores stay in the history. A
    submission that already has a run queued or running is skipped. The grading itself is
    done by `grader serve`'s workers.

    \b
    Examples:
      grader regrade --exercise manual-sgd-step --reason "tolerance fixed" --wait
      grader regrade --user bob@example.edu --dry-run
    """
    from grader.store import regrades

    chosen = [name for name, value in (("--exercise", slug), ("--user", email), ("--submission", submission_id),
                                       ("--all", everything)) if value]
    if len(chosen) != 1:
        given = f" (got {', '.join(chosen)})" if chosen else ""
        raise click.UsageError(f"choose exactly one of --exercise, --user, --submission, --all{given}")
    if dry_run and wait:
        raise click.UsageError("--wait has nothing to wait for with --dry-run")
    selector = dict(exercise=slug, user=email, submission_id=submission_id, course=course_id,
                    everything=everything)
    with instance_database(instance_path) as (config, database):
        if dry_run:
            with database.reading() as session:
                _check_selector(session, selector)
                _list_planned(regrades.select_submissions(session, **selector))
            return
        bank = bank_of(obj, config)
        with database.unit_of_work() as session:
            _sync(session, bank)
            _check_selector(session, selector)
            report = regrades.request_regrade(session, regrades.select_submissions(session, **selector),
                                              None, reason)
        _publish_regrades(config, report.queued)
        click.echo(f"queued {len(report.queued)} regrade(s); skipped {len(report.skipped)} "
                   "(already queued or running)")
        if wait:
            _wait_for(database, report.queued)


def _publish_regrades(config, run_ids: list[int]) -> None:  # noqa: ANN001
    """GRADER_QUEUE=celery: tell the workers, after the commit (a failure is the sweeper's)."""
    from grader.queue.publish import CeleryPublisher, publisher_for

    publisher = publisher_for(config)
    if isinstance(publisher, CeleryPublisher):
        try:
            publisher.publish_runs(run_ids, regrade=True)
        finally:
            publisher.close()


def _sync(session: "Session", bank: "Bank") -> None:
    from sqlalchemy import select

    from grader.store import catalog
    from grader.store.models import Exercise

    before = dict(session.execute(select(Exercise.slug, Exercise.content_hash)).all())
    changed = [row.slug for row in catalog.sync_exercises(session, bank)
               if before.get(row.slug) not in (None, row.content_hash)]
    if changed:
        click.echo(f"synced the bank; changed since the last sync: {', '.join(changed)}", err=True)


def _check_selector(session: "Session", selector: dict) -> None:
    """A name that matches nothing is a typo far more often than an empty result."""
    from grader.store import accounts, catalog
    from grader.store.models import Course, Submission

    if selector["exercise"] and catalog.exercise_by_slug(session, selector["exercise"]) is None:
        raise click.ClickException(f"no exercise {selector['exercise']!r}")
    if selector["user"] and accounts.user_by_email(session, selector["user"]) is None:
        raise click.ClickException(f"no user with email {selector['user']!r}")
    if selector["submission_id"] and session.get(Submission, selector["submission_id"]) is None:
        raise click.ClickException(f"no submission {selector['submission_id']}")
    if selector["course"] and session.get(Course, selector["course"]) is None:
        raise click.ClickException(f"no course {selector['course']!r}")


def _list_planned(found: list) -> None:
    from grader.store.models import RunStatus
    from grader.store.submissions import shown_result

    busy = (RunStatus.QUEUED.value, RunStatus.RUNNING.value)
    rows = []
    for submission in found:
        latest, shown = submission.latest_run, shown_result(submission)
        score = f"{shown.score:g}/{shown.max_score:g}" if shown is not None and shown.score is not None else "-"
        action = f"skip ({latest.status})" if latest is not None and latest.status in busy else "regrade"
        rows.append((action, str(submission.id), submission.user.email, submission.exercise.slug,
                     submission.course_id, score))
    if rows:
        _table(("ACTION", "SUBMISSION", "USER", "EXERCISE", "COURSE", "SCORE"), rows)
    skipped = sum(1 for row in rows if row[0] != "regrade")
    click.echo(f"would queue {len(rows) - skipped} regrade(s); would skip {skipped} (already queued or running)")


def _table(header: tuple[str, ...], rows: list[tuple[str, ...]]) -> None:
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header) - 1)]
    for row in [header, *rows]:
        click.echo("  ".join(cell.ljust(width) for cell, width in zip(row, widths)) + "  " + row[-1])


def _wait_for(database: "Database", run_ids: list[int], poll_seconds: float = 0.5) -> None:
    """``[12/40] graded, 1 failed`` on stderr until every run is done (rewritten in place on a
    terminal, a line per change elsewhere). Ctrl-C stops waiting, not the grading."""
    from grader.store import regrades

    if not run_ids:
        click.echo("nothing to wait for", err=True)
        return
    total, shown, tty = len(run_ids), None, sys.stderr.isatty()
    try:
        while True:
            with database.reading() as session:
                counts = regrades.progress(session, run_ids)
            finished = counts["graded"] + counts["failed"]
            line = f"[{finished}/{total}] graded" + (f", {counts['failed']} failed" if counts["failed"] else "")
            if line != shown:
                click.echo(("\r\033[K" if tty else "") + line, err=True, nl=not tty)
                shown = line
            if finished >= total:
                break
            time.sleep(poll_seconds)
    except KeyboardInterrupt:
        click.echo("\nstopped waiting; the queued regrades will still be graded by `grader serve`", err=True)
        sys.exit(130)
    if tty:
        click.echo("", err=True)
    _summarise(database, run_ids, counts)


def _summarise(database: "Database", run_ids: list[int], counts: dict[str, int]) -> None:
    from sqlalchemy import select

    from grader.store.models import Regrade

    with database.reading() as session:
        scores = session.execute(select(Regrade.old_score, Regrade.new_score)
                                 .where(Regrade.run_id.in_(run_ids))).all()
    changed = sum(1 for old, new in scores if new is not None and old != new)
    click.echo(f"regraded {len(run_ids)}: {counts['graded']} graded, {counts['failed']} failed; "
               f"{changed} score(s) changed")
    if counts["failed"]:
        raise click.ClickException(f"{counts['failed']} run(s) failed to grade; see `grader serve`'s log")
