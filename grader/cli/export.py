"""``grader export``: a course's gradebook as CSV (the very bytes the web page's CSV link
gives) or as a text table to read in the terminal."""

from __future__ import annotations

from pathlib import Path

import click

from grader.cli.base import main
from grader.cli.service import INSTANCE_OPTION, course_or_error, instance_database


@main.command()
@INSTANCE_OPTION
@click.option("--course", "course_id", metavar="ID", default=None,
              help="The course to export (default: the instance's default_course, usually 'demo').")
@click.option("--csv", "as_csv", is_flag=True,
              help="CSV: email,name, then <slug>_best,<slug>_latest,<slug>_attempts per exercise, total_best.")
@click.option("--out", type=click.Path(dir_okay=False, writable=True), metavar="FILE", default=None,
              help="Write to FILE instead of standard output.")
def export(instance_path: str | None, course_id: str | None, as_csv: bool, out: str | None) -> None:
    """Export a course's gradebook: best and latest score and attempts per student and exercise."""
    from grader.store import gradebook

    with instance_database(instance_path) as (config, database), database.reading() as session:
        course_id = course_id or config.default_course
        book = gradebook.build_gradebook(session, course_or_error(session, course_id))
        text = gradebook.csv_text(book) if as_csv else text_table(book)
    if out is None:
        click.echo(text, nl=False)
        return
    try:
        with open(out, "w", encoding="utf-8", newline="") as handle:
            handle.write(text)
    except OSError as exc:
        raise click.ClickException(f"cannot write {out}: {exc.strerror}") from None
    click.echo(f"wrote the gradebook of {course_id} ({len(book.students)} students) to {Path(out)}", err=True)


def text_table(book) -> str:  # noqa: ANN001 - a grader.store.gradebook.Gradebook
    """One line per student; exercise columns are numbered, with a legend under the table.
    A cell reads ``best/latest xN`` (N attempts), or ``-`` before any attempt."""
    numbers = [str(index) for index, _ in enumerate(book.exercises, start=1)]
    header = ["email", "name", *numbers, "total"]
    lines = []
    for row in book.students:
        cells = []
        for exercise in book.exercises:
            cell = row.cells[exercise.slug]
            cells.append(f"{_num(cell.best)}/{_num(cell.latest)} x{cell.attempts}" if cell.attempts else "-")
        lines.append([row.email, row.name, *cells, f"{row.total_best:g}/{book.max_total:g}"])
    widths = [max(len(cells[i]) for cells in [header, *lines]) for i in range(len(header))]

    def render(cells: list[str]) -> str:
        return "  ".join(cell.ljust(width) if i < 2 else cell.rjust(width)
                         for i, (cell, width) in enumerate(zip(cells, widths))).rstrip()

    out = [f"{book.course.title} ({book.course.id}): {len(book.students)} students", "",
           render(header), render(["-" * width for width in widths])]
    out += [render(cells) for cells in lines] or ["(no students enrolled)"]
    out += ["", "exercises (best/latest xattempts, out of):"]
    out += [f"  {number:>2}  {exercise.slug} ({exercise.points:g})" for number, exercise in zip(numbers, book.exercises)]
    return "\n".join(out) + "\n"


def _num(value: float | None) -> str:
    return "-" if value is None else f"{value:g}"
