"""The gradebook and exercise analytics as the store computes them, and ``grader export``,
on both database back ends, from submissions graded by a real worker in the real sandbox."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest
from click.testing import CliRunner
from service_fixtures import add_user, login

import grader.cli.export  # noqa: F401 - adds the command to the group
from grader.cli.base import main as cli
from grader.queue.worker import Worker
from grader.store import accounts, catalog, gradebook, regrades, submissions
from grader.store.models import Course

SLUG = "manual-sgd-step"
ROOT = Path(__file__).resolve().parents[2]
STUB = ROOT / "exercises" / SLUG / "stub.py"
SOLUTION = ROOT / "solutions" / f"{SLUG}.py"


def submit(db, email: str, path: Path, slug: str = SLUG) -> int:  # noqa: ANN001
    with db.unit_of_work() as session:
        user = accounts.user_by_email(session, email)
        return submissions.submit(session, user, slug, path.name, path.read_bytes(), 1 << 20).submission.id


def grade_all(service_config, db, bank, sandbox) -> int:  # noqa: ANN001
    worker, graded = Worker(service_config, db, bank, sandbox), 0
    while worker.run_once():
        graded += 1
    return graded


def book_of(db, course_id: str = "demo") -> gradebook.Gradebook:  # noqa: ANN001
    with db.reading() as session:
        return gradebook.build_gradebook(session, session.get(Course, course_id))


@pytest.fixture
def graded(demo, db, bank, sandbox, service_config):  # noqa: ANN001, ANN201
    """The demo student submitted the solution, then the stub; both are graded."""
    first = submit(db, demo["student"].email, SOLUTION)
    second = submit(db, demo["student"].email, STUB)
    assert grade_all(service_config, db, bank, sandbox) == 2
    return {"solution": first, "stub": second}


def run_export(service_config, *args: str):  # noqa: ANN001, ANN201
    env = {"GRADER_DATABASE_URL": service_config.database_url}
    return CliRunner().invoke(cli, ["export", "--instance", str(service_config.instance_path), *args], env=env)


def test_gradebook_cell_holds_best_and_latest_score_and_attempts(graded, db):
    book = book_of(db)
    (student,) = [row for row in book.students if row.email == "student@example.com"]
    cell = student.cells[SLUG]
    assert cell.attempts == 2 and cell.best == 10 and cell.latest < cell.best
    assert cell.newest_submission_id == graded["stub"] and cell.max_score == 10
    assert all(student.cells[e.slug].attempts == 0 for e in book.exercises if e.slug != SLUG)
    assert student.total_best == 10 and book.max_total == sum(e.points for e in book.exercises)
    assert [row.email for row in book.students] == ["student@example.com"]  # instructors are not rows


def test_csv_from_the_page_equals_grader_export_csv(graded, client, demo, db, service_config):
    add_user(db, "=cmd@example.com", "student")  # a formula-looking email must not reach a spreadsheet as one
    login(client, demo["instructor"])
    page = client.get("/instructor/gradebook.csv?course=demo")
    assert page.status_code == 200 and page.mimetype == "text/csv"
    assert "attachment" in page.headers["Content-Disposition"]

    result = run_export(service_config, "--course", "demo", "--csv")
    assert result.exit_code == 0, result.output
    assert result.stdout_bytes == page.get_data()

    rows = list(csv.DictReader(io.StringIO(page.get_data(as_text=True))))
    assert list(rows[0])[:5] == ["email", "name", "accumulated-gradients_best", "accumulated-gradients_latest",
                                 "accumulated-gradients_attempts"] and list(rows[0])[-1] == "total_best"
    student = next(row for row in rows if row["email"] == "student@example.com")
    assert student[f"{SLUG}_best"] == "10" and student[f"{SLUG}_attempts"] == "2"
    assert float(student[f"{SLUG}_latest"]) < 10 and student["total_best"] == "10"
    assert student["adam-from-scratch_best"] == "" and student["adam-from-scratch_attempts"] == "0"
    assert any(row["email"] == "'=cmd@example.com" for row in rows)


def test_export_writes_the_csv_to_a_file_and_defaults_to_the_demo_course(demo, db, service_config, tmp_path):
    submit(db, demo["student"].email, STUB)  # not graded: an attempt without a score
    out = tmp_path / "grades.csv"
    result = run_export(service_config, "--csv", "--out", str(out))
    assert result.exit_code == 0, result.output
    assert out.read_bytes() == run_export(service_config, "--csv").stdout_bytes
    student = next(row for row in csv.DictReader(io.StringIO(out.read_text())) if row["name"] == "Demo Student")
    assert student[f"{SLUG}_attempts"] == "1" and student[f"{SLUG}_best"] == "" and student["total_best"] == "0"


def test_export_without_csv_prints_a_readable_table(demo, db, service_config):
    submit(db, demo["student"].email, STUB)
    submit(db, demo["student"].email, STUB)
    result = run_export(service_config)
    assert result.exit_code == 0, result.output
    assert "student@example.com" in result.output and "-/- x2" in result.output and "0/100" in result.output
    assert SLUG in result.output  # in the legend of the numbered columns


def test_export_of_an_unknown_course_is_a_clear_error(demo, service_config):
    result = run_export(service_config, "--course", "nope", "--csv")
    assert result.exit_code != 0
    assert "there is no course 'nope'" in result.output and "demo" in result.output
    assert "Traceback" not in result.output


def test_filter_and_sort_put_the_right_students_first(demo, db):
    for email in ("ada@example.com", "grace@example.com"):
        add_user(db, email, "student")
    rows = book_of(db).students
    assert [r.email for r in gradebook.filter_students(rows, "GRACE")] == ["grace@example.com"]
    assert [r.email for r in gradebook.filter_students(rows, "@example.com")] == [r.email for r in rows]
    by_email = [r.email for r in gradebook.sort_students(rows, "email", descending=True)]
    assert by_email == sorted(by_email, reverse=True)


def test_analytics_count_each_submissions_newest_graded_run_once(demo, db, bank, sandbox, service_config):
    stub = submit(db, demo["student"].email, STUB)
    submit(db, demo["student"].email, SOLUTION)
    grade_all(service_config, db, bank, sandbox)
    with db.unit_of_work() as session:  # a regrade adds a run; the stub must still count once
        chosen = regrades.select_submissions(session, submission_id=stub)
        regrades.request_regrade(session, chosen, None, "test")
    assert grade_all(service_config, db, bank, sandbox) == 1

    with db.reading() as session:
        report = gradebook.exercise_report(session, "demo", catalog.exercise_by_slug(session, SLUG))
    assert report.submissions == 2 and report.graded == 2 and report.students == 1
    tallies = {tally.name: tally for tally in report.checks}
    assert tallies["updates_every_parameter"].runs == 2
    assert tallies["updates_every_parameter"].failed == 1 and tallies["updates_every_parameter"].share == 0.5
    assert tallies["leaves_gradients_unchanged"].failed == 0  # the stub passes it
    assert all(tally.failed <= 1 for tally in report.checks)
    assert [tally.name for tally in report.checks][0] == "avoids_forbidden_apis"  # in the order of checks.py
    assert report.hints and all(tally.submissions == 1 <= tally.count for tally in report.hints)
