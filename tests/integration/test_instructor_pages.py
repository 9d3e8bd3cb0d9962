"""The instructor pages through the Flask test client, on both database back ends, with
submissions graded by a real worker in the real sandbox."""

from __future__ import annotations

import io
import json
import re
import shutil
from pathlib import Path

import pytest
from markupsafe import escape
from service_fixtures import add_user, csrf_token, login

from grader.engine.bank import Bank
from grader.web.charts import bar_chart
from grader.queue.worker import Worker
from grader.store import accounts, submissions
from grader.store.models import Enrolment, GradingRun, Regrade, Submission, User

SLUG = "manual-sgd-step"
ROOT = Path(__file__).resolve().parents[2]
STUB = ROOT / "exercises" / SLUG / "stub.py"
SOLUTION = ROOT / "solutions" / f"{SLUG}.py"


def submit(db, email: str, path: Path, filename: str | None = None) -> int:  # noqa: ANN001
    with db.unit_of_work() as session:
        user = accounts.user_by_email(session, email)
        return submissions.submit(session, user, SLUG, filename or path.name, path.read_bytes(),
                                  1 << 20).submission.id


def grade_all(service_config, db, bank, sandbox) -> int:  # noqa: ANN001
    worker, graded = Worker(service_config, db, bank, sandbox), 0
    while worker.run_once():
        graded += 1
    return graded


def names_in_order(html: str, names: list[str]) -> list[str]:
    return sorted(names, key=lambda name: html.index(name))


@pytest.fixture
def instructor(client, demo):  # noqa: ANN001, ANN201
    login(client, demo["instructor"])
    return client


# ----------------------------------------------------------------------------- gradebook
def test_gradebook_shows_best_latest_and_attempts_with_a_link_to_the_newest_submission(
        instructor, demo, db, bank, sandbox, service_config):
    submit(db, demo["student"].email, SOLUTION)
    newest = submit(db, demo["student"].email, STUB)
    assert grade_all(service_config, db, bank, sandbox) == 2

    page = instructor.get("/instructor/gradebook")
    assert page.status_code == 200
    html = page.text
    assert "Demo Student" in html and "student@example.com" in html
    assert f'href="/instructor/submissions/{newest}"' in html
    cell = html[html.index(f'/instructor/submissions/{newest}"'):]
    assert re.search(r">\s*10\s*</a>", cell) and "latest 2" in cell[:600] and "2 attempts" in cell[:600]
    assert "/instructor/gradebook.csv?course=demo" in html
    assert f"/instructor/exercises/{SLUG}?course=demo" in html  # analytics from the column header
    assert "Exercises analytics" in html and "/instructor/roster?course=demo" in html
    assert "Demo Instructor</td>" not in html  # instructors are not rows


def test_gradebook_filters_by_name_or_email_and_sorts_by_any_column(instructor, demo, db, bank, sandbox,
                                                                    service_config):
    add_user(db, "ada@example.com", "student")
    add_user(db, "grace@example.com", "student")
    submit(db, "ada@example.com", SOLUTION)
    submit(db, "grace@example.com", STUB)
    assert grade_all(service_config, db, bank, sandbox) == 2
    everyone = ["ada@example.com", "grace@example.com", "student@example.com"]

    page = instructor.get("/instructor/gradebook?q=GRACE").text
    assert "grace@example.com" in page and "ada@example.com" not in page and "student@example.com" not in page
    page = instructor.get("/instructor/gradebook?q=nobody-like-this").text
    assert "No student matches" in page

    assert names_in_order(instructor.get("/instructor/gradebook?sort=email&dir=desc").text, everyone) == everyone[::-1]
    by_score = instructor.get(f"/instructor/gradebook?sort={SLUG}&dir=desc").text
    assert names_in_order(by_score, everyone) == everyone  # 10, 2, then nobody without a score
    by_score = instructor.get(f"/instructor/gradebook?sort={SLUG}&dir=asc").text
    assert names_in_order(by_score, everyone) == ["grace@example.com", "ada@example.com", "student@example.com"]
    by_total = instructor.get("/instructor/gradebook?sort=total&dir=desc").text
    assert names_in_order(by_total, everyone)[0] == "ada@example.com"

    only = instructor.get(f"/instructor/gradebook?exercise={SLUG}").text
    assert "/instructor/exercises/adam-from-scratch?" not in only and f"/instructor/exercises/{SLUG}?" in only
    assert instructor.get("/instructor/gradebook?sort=bogus&dir=sideways").status_code == 200


def test_unknown_course_and_exercise_give_a_clear_404_page(instructor):
    page = instructor.get("/instructor/gradebook?course=nope")
    assert page.status_code == 404 and "None of the courses you teach is called" in page.text
    for url in ("/instructor/gradebook?exercise=nope", "/instructor/exercises/nope",
                "/instructor/submissions/99999", f"/instructor/submissions/{2**63}",
                "/instructor/gradebook.csv?course=nope", "/instructor/exercises/a%00b",
                "/instructor/gradebook?course=%00", "/instructor/gradebook?exercise=%00",
                "/instructor/roster?course=nope"):
        page = instructor.get(url)
        assert page.status_code == 404 and "Not found" in page.text, url
    assert instructor.get("/instructor/exercises/nope").text.count("has no exercise") == 1


# ----------------------------------------------------------------------------- who may see
def test_a_student_gets_404_on_every_instructor_page(client, demo, db):
    submission_id = submit(db, demo["student"].email, STUB)
    login(client, demo["student"])
    token = csrf_token(client.get(f"/exercises/{SLUG}").text)
    for url in ("/instructor/gradebook", "/instructor/gradebook?course=demo", "/instructor/gradebook.csv",
                "/instructor/exercises", f"/instructor/exercises/{SLUG}", "/instructor/roster",
                f"/instructor/submissions/{submission_id}"):
        assert client.get(url).status_code == 404, url
    for url in (f"/instructor/submissions/{submission_id}/regrade", f"/instructor/exercises/{SLUG}/regrade",
                "/instructor/roster"):
        response = client.post(url, data={"csrf_token": token, "reason": "x", "csv": "a@example.com,A"})
        assert response.status_code == 404, url
    with db.reading() as session:
        assert session.query(GradingRun).count() == 1 and session.query(User).count() == 2


def test_an_instructor_of_another_course_gets_404_for_this_course(client, demo, db):
    with db.unit_of_work() as session:
        accounts.ensure_course(session, "other", "Another course")
    other = add_user(db, "teacher@example.com", "instructor", course="other")
    submission_id = submit(db, demo["student"].email, STUB)
    login(client, other)
    assert client.get("/instructor/gradebook").status_code == 200  # their own course
    assert "Another course" in client.get("/instructor/gradebook").text
    for url in ("/instructor/gradebook?course=demo", "/instructor/gradebook.csv?course=demo",
                f"/instructor/exercises/{SLUG}?course=demo", "/instructor/roster?course=demo",
                f"/instructor/submissions/{submission_id}"):
        assert client.get(url).status_code == 404, url


def test_the_gradebook_offers_a_course_chooser_to_someone_teaching_two_courses(instructor, db):
    with db.unit_of_work() as session:
        course = accounts.ensure_course(session, "second", "Second course")
        accounts.enrol(session, accounts.user_by_email(session, "instructor@example.com"), course)
    page = instructor.get("/instructor/gradebook").text
    assert 'name="course"' in page and "Second course" in page
    second = instructor.get("/instructor/gradebook?course=second")
    assert second.status_code == 200 and "No students are enrolled yet" in second.text


# ----------------------------------------------------------------------------- submission detail
def hidden_check_bank(tmp_path: Path) -> Bank:
    """The bank's exercise with one check made hidden (no exercise of the real bank has one)."""
    shutil.copytree(ROOT / "exercises" / SLUG, tmp_path / "bank" / "exercises" / SLUG)
    (tmp_path / "bank" / "solutions").mkdir()
    shutil.copy(SOLUTION, tmp_path / "bank" / "solutions")
    checks = tmp_path / "bank" / "exercises" / SLUG / "checks.py"
    marker = '@check(points=1, description=N_("Reproduces the worked example'
    assert marker in checks.read_text()
    checks.write_text(checks.read_text().replace(marker, marker.replace("points=1,", "points=1, visible=False,")))
    return Bank(tmp_path / "bank")


def test_submission_detail_shows_the_source_hidden_checks_and_run_history(instructor, demo, db, sandbox,
                                                                          service_config, tmp_path):
    submission_id = submit(db, demo["student"].email, STUB)
    assert grade_all(service_config, db, hidden_check_bank(tmp_path), sandbox) == 1
    with db.reading() as session:
        run = session.query(GradingRun).one()
        hidden = next(c for c in run.result["checks"] if c["name"] == "reproduces_worked_example")
        run_id, exercise_hash = run.id, run.exercise_hash
    assert hidden["visible"] is False and hidden["verdict"] != "passed"

    page = instructor.get(f"/instructor/submissions/{submission_id}")
    assert page.status_code == 200
    html = page.text
    assert "Demo Student" in html and "stub.py" in html
    assert str(escape(STUB.read_text().splitlines()[0])) in html  # the source, escaped
    assert "reproduces_worked_example" in html and ">hidden</span>" in html
    assert str(escape(hidden["message"])) in html  # the hidden check in full
    assert "only its verdict is shown" not in html
    assert exercise_hash[:10] in html and f"<td>{run_id}</td>" in html
    assert "never regraded" in html

    student_page = instructor.application.test_client()
    login(student_page, demo["student"])
    assert "only its verdict is shown" in student_page.get(f"/submissions/{submission_id}").text


def test_notebook_submission_shows_the_converted_python_and_the_notebook(instructor, demo, db):
    notebook = ROOT / "exercises" / SLUG / "stub.ipynb"
    submission_id = submit(db, demo["student"].email, notebook, "mine.ipynb")
    html = instructor.get(f"/instructor/submissions/{submission_id}").text
    assert "The Python the grader imports from this notebook" in html
    assert "The notebook as submitted (JSON)" in html and "&#34;cells&#34;" in html
    first_code = next(cell for cell in json.loads(notebook.read_text())["cells"] if cell["cell_type"] == "code")
    assert str(escape("".join(first_code["source"]).splitlines()[0])) in html


def test_regrade_adds_a_run_and_a_regrade_row_and_keeps_the_old_run(instructor, demo, db, bank, sandbox,
                                                                    service_config):
    submission_id = submit(db, demo["student"].email, STUB)
    assert grade_all(service_config, db, bank, sandbox) == 1
    url = f"/instructor/submissions/{submission_id}"
    token = csrf_token(instructor.get(url).text)

    empty = instructor.post(url + "/regrade", data={"csrf_token": token, "reason": "  "})
    assert empty.status_code == 303 and "Say why you regrade" in instructor.get(url).text
    response = instructor.post(url + "/regrade", data={"csrf_token": token, "reason": "check was\x00 fixed\n"})
    assert response.status_code == 303 and response.location.endswith(url)
    assert "1 regrade queued." in instructor.get(url).text
    again = instructor.post(url + "/regrade", data={"csrf_token": token, "reason": "twice"})
    assert again.status_code == 303 and "already on its way" in instructor.get(url).text
    assert grade_all(service_config, db, bank, sandbox) == 1

    with db.reading() as session:
        first, second = session.query(GradingRun).order_by(GradingRun.id).all()
        (regrade,) = session.query(Regrade).all()
        assert first.status == second.status == "graded" and first.score is not None
        assert (second.reason, regrade.run_id, regrade.reason) == ("regrade", second.id, "check was fixed")
        assert regrade.old_score == first.score and regrade.new_score == second.score
        assert regrade.requested_by.email == "instructor@example.com"
    html = instructor.get(url).text
    assert "check was fixed" in html and "Demo Instructor" in html and f"<td>{first.id}</td>" in html


def test_regrade_without_a_csrf_token_is_refused_with_a_clear_page(instructor, demo, db):
    submission_id = submit(db, demo["student"].email, STUB)
    response = instructor.post(f"/instructor/submissions/{submission_id}/regrade", data={"reason": "x"})
    assert response.status_code == 400 and "Form expired" in response.text
    with db.reading() as session:
        assert session.query(GradingRun).count() == 1


# ----------------------------------------------------------------------------- analytics
def test_exercise_analytics_count_failing_checks_and_hints_and_chart_them(instructor, demo, db, bank, sandbox,
                                                                          service_config):
    add_user(db, "ada@example.com", "student")
    submit(db, demo["student"].email, STUB)
    submit(db, "ada@example.com", SOLUTION)
    assert grade_all(service_config, db, bank, sandbox) == 2

    page = instructor.get(f"/instructor/exercises/{SLUG}?course=demo")
    assert page.status_code == 200
    html = page.text
    row = html[html.index('<span class="check-name">updates_every_parameter</span>'):]
    assert re.search(r'<td class="num">1</td>\s*<td class="num">2</td>\s*<td class="num">50%', row)
    assert "<svg" in html and 'role="img"' in html and "<title" in html and "<script" not in html
    assert "rebinds the name p" in html  # the stub's hint, in the hints table and chart
    assert "Regrade 2 submissions" in html

    overview = instructor.get("/instructor/exercises").text
    assert f"/instructor/exercises/{SLUG}?course=demo" in overview and "2 / 2" in overview

    token = csrf_token(html)
    response = instructor.post(f"/instructor/exercises/{SLUG}/regrade?course=demo",
                               data={"csrf_token": token, "reason": "tolerance fixed"})
    assert response.status_code == 303
    assert "2 regrades queued." in instructor.get(response.location).text
    response = instructor.post(f"/instructor/exercises/{SLUG}/regrade?course=demo",
                               data={"csrf_token": token, "reason": "again"})
    assert "2 submissions skipped" in instructor.get(response.location).text
    with db.reading() as session:
        assert session.query(Regrade).count() == 2 and session.query(GradingRun).count() == 4


# ----------------------------------------------------------------------------- roster
def test_roster_import_creates_and_enrols_students_and_reports_bad_lines(instructor, demo, db):
    page = instructor.get("/instructor/roster")
    assert page.status_code == 200 and "Demo Student" in page.text
    lines = "email,name\nada@example.com,Ada Lovelace\nnot-an-email,Nobody\nstudent@example.com,Demo\n"
    response = instructor.post("/instructor/roster?course=demo", data={
        "csrf_token": csrf_token(page.text), "file": (io.BytesIO(lines.encode()), "class.csv")},
        content_type="multipart/form-data")
    assert response.status_code == 200 and response.headers["Cache-Control"] == "no-store"
    html = response.text
    with db.reading() as session:
        ada = session.query(User).filter_by(email="ada@example.com").one()
        assert ada.display_name == "Ada Lovelace" and ada.role == "student"
        assert session.query(Enrolment).filter_by(user_id=ada.id, course_id="demo").one().role == "student"
    password = re.search(r"<td>ada@example.com</td><td><code>([^<]+)</code>", html).group(1)
    with db.unit_of_work() as session:
        assert accounts.authenticate(session, "ada@example.com", password) is not None
    assert "Hand these passwords out now." in html and "line 3:" in html and "not-an-email" in html
    assert "1 account created" in html and "1 existing user enrolled" in html
    assert "<td>Ada Lovelace</td>" in html  # the roster list below already shows the new student
    assert password not in instructor.get("/instructor/roster").text  # shown only once


def test_roster_import_from_the_text_area_works_too(instructor, demo, db):
    token = csrf_token(instructor.get("/instructor/roster").text)
    response = instructor.post("/instructor/roster", data={"csrf_token": token, "csv": "grace@example.com,Grace\r\n"})
    assert response.status_code == 200 and "1 account created" in response.text
    with db.reading() as session:
        assert session.query(User).filter_by(email="grace@example.com").count() == 1


@pytest.mark.parametrize("upload, message", [
    (b"", "The CSV is empty"),
    (b"   \n\n", "The CSV is empty"),
    ("email,name\nzo\xeb@example.com,Zo\xeb\n".encode("latin-1"), "not UTF-8"),
    (b"email,name\n", "only a header"),
    (b"a@example.com,\x00A\n", "NUL bytes"),
    (b"a@example.com," + b"A" * 201 + b"\n", "Line 1: the name is longer than 200 characters"),
])
def test_roster_rejects_a_bad_csv_with_a_clear_message(instructor, db, upload, message):
    token = csrf_token(instructor.get("/instructor/roster").text)
    response = instructor.post("/instructor/roster", data={
        "csrf_token": token, "file": (io.BytesIO(upload), "class.csv")}, content_type="multipart/form-data")
    assert response.status_code == 422 and message in response.text
    with db.reading() as session:
        assert session.query(User).count() == 2


def test_roster_import_without_a_csrf_token_is_refused(instructor, db):
    response = instructor.post("/instructor/roster", data={"csv": "ada@example.com,Ada"})
    assert response.status_code == 400 and "Form expired" in response.text
    with db.reading() as session:
        assert session.query(Submission).count() == 0 and session.query(User).count() == 2


def test_bar_chart_escapes_its_labels_and_names_itself_for_screen_readers():
    svg = str(bar_chart([("<script>alert(1)</script>", 3), ("a" * 80, 1)], 4, title="Fails & hints"))
    assert "<script>" not in svg and "&lt;script&gt;" in svg
    assert '<title id="' in svg and "Fails &amp; hints" in svg and 'role="img"' in svg
    assert "a" * 80 in svg and ("a" * 39 + "…") in svg  # shortened on the bar, whole in its title
    assert str(bar_chart([], 1, title="nothing")) == ""
