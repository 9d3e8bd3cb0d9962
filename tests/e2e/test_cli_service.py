"""The service's command line as an instructor and a student use it: ``grader users``,
``grader tokens``, ``grader regrade`` against a real database (SQLite and PostgreSQL), and
``grader submit`` against a live server on loopback whose worker really grades."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from service_fixtures import add_user, make_token
from sqlalchemy import select, update

import grader.cli.admin  # noqa: F401 - these modules add their commands to the group
import grader.cli.service  # noqa: F401
import grader.cli.submit  # noqa: F401
from grader.cli.base import main
from grader.queue.worker import Worker
from grader.store import accounts, catalog, regrades, submissions
from grader.store.models import Enrolment, Exercise, GradingRun

ROOT = Path(__file__).resolve().parents[2]
SLUG = "none-grad-after-rebinding"
OTHER = "detached-prediction"
STUB = ROOT / "exercises" / SLUG / "stub.py"


@pytest.fixture
def grader_cli(tmp_path: Path, database_url: str):
    """``grader ARGS... --instance <tmp>`` in this process, on the test's database."""
    runner = CliRunner()

    def invoke(*args: str, input: str | None = None) -> Result:  # noqa: A002
        result = runner.invoke(main, ["--bank", str(ROOT), *args, "--instance", str(tmp_path / "instance")],
                               input=input, env={"GRADER_DATABASE_URL": database_url})
        assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
        assert "Traceback" not in result.output
        return result

    return invoke


def signs_in(db, email: str, password: str) -> bool:  # noqa: ANN001
    with db.unit_of_work() as session:
        return accounts.authenticate(session, email, password) is not None


# ----------------------------------------------------------------------------- users
def test_user_added_with_password_from_stdin_can_sign_in(grader_cli, db, demo):
    result = grader_cli("users", "add", "Ada@Example.edu", "--role", "instructor", "--name", "Ada Lovelace",
                        "--password-stdin", input="correct horse battery\nsecond line ignored\n")
    assert result.exit_code == 0, result.output
    assert "created instructor ada@example.edu (Ada Lovelace), enrolled in demo" in result.stdout
    assert "password" not in result.stdout
    assert signs_in(db, "ada@example.edu", "correct horse battery")
    with db.reading() as session:
        user = accounts.user_by_email(session, "ada@example.edu")
        assert user.is_instructor and [c.id for c in accounts.courses_of(session, user)] == ["demo"]


def test_user_added_without_password_gets_a_generated_one_printed_once(grader_cli, db, demo):
    result = grader_cli("users", "add", "bob@example.edu", "--role", "student")
    assert result.exit_code == 0, result.output
    (line,) = [l for l in result.stdout.splitlines() if l.startswith("password (shown once): ")]
    password = line.split(": ", 1)[1]
    assert len(password) >= 12 and result.stdout.count(password) == 1
    assert signs_in(db, "bob@example.edu", password)


def test_first_user_of_an_empty_instance_creates_the_default_course_with_the_bank(grader_cli, db):
    result = grader_cli("users", "add", "first@example.edu", "--role", "instructor")
    assert result.exit_code == 0, result.output
    assert "created course demo with every exercise of the bank" in result.stderr
    with db.reading() as session:
        assert len(catalog.course_exercises(session, "demo")) == len(list((ROOT / "exercises").glob("*/exercise.toml")))


def test_adding_an_existing_email_is_a_clear_error(grader_cli, demo):
    result = grader_cli("users", "add", demo["student"].email, "--role", "student")
    assert result.exit_code == 1
    assert f"a user with email {demo['student'].email} exists already" in result.stderr


def test_adding_a_user_to_an_unknown_course_is_an_error_and_creates_nothing(grader_cli, db, demo):
    result = grader_cli("users", "add", "carl@example.edu", "--role", "student", "--course", "nope")
    assert result.exit_code == 1 and "no course 'nope' (courses: demo)" in result.stderr
    with db.reading() as session:
        assert accounts.user_by_email(session, "carl@example.edu") is None


def test_roster_import_creates_enrols_and_reports_the_bad_line(grader_cli, db, demo):
    with db.unit_of_work() as session:
        accounts.ensure_course(session, "autograd-2026")
    roster = f"email,name\ndora@example.edu,Dora Diaz\nnot-an-email,Nobody\n{demo['student'].email},Demo\n"
    result = grader_cli("users", "import", "-", "--course", "autograd-2026", input=roster)
    assert result.exit_code == 1, result.output
    assert "skipped line 3: 'not-an-email' is not an email address" in result.stderr
    assert f"{demo['student'].email}: existing account, enrolled" in result.stdout
    assert "1 created, 1 existing enrolled in autograd-2026, 1 line(s) skipped" in result.stdout
    (line,) = [l for l in result.stdout.splitlines() if "dora@example.edu" in l]
    assert signs_in(db, "dora@example.edu", line.split()[-1])
    with db.reading() as session:
        members = set(session.scalars(select(Enrolment.user_id).where(Enrolment.course_id == "autograd-2026")))
        assert len(members) == 2


def test_users_list_shows_email_name_role_and_courses(grader_cli, demo):
    result = grader_cli("users", "list", "--course", "demo")
    assert result.exit_code == 0
    header, *rows = result.stdout.splitlines()
    assert header.split() == ["EMAIL", "NAME", "ROLE", "COURSES"]
    assert any(r.startswith(demo["instructor"].email) and "instructor" in r and r.endswith("demo") for r in rows)
    assert grader_cli("users", "list", "--course", "nope").exit_code == 1


# ----------------------------------------------------------------------------- tokens
def test_token_is_printed_alone_on_the_last_line_and_authenticates(grader_cli, db, demo):
    result = grader_cli("tokens", "create", demo["student"].email, "--name", "laptop")
    assert result.exit_code == 0, result.output
    token = result.stdout.splitlines()[-1]
    assert token == token.strip() and " " not in token and token.startswith("tg_")
    assert "shown once" in result.stderr
    with db.reading() as session:
        assert accounts.user_for_token(session, token).email == demo["student"].email


def test_token_for_an_unknown_user_is_an_error(grader_cli, demo):
    result = grader_cli("tokens", "create", "ghost@example.edu")
    assert result.exit_code == 1 and "no user with email 'ghost@example.edu'" in result.stderr
    assert result.stdout == ""


# ----------------------------------------------------------------------------- regrade
def grade_everything(db, worker: Worker) -> None:  # noqa: ANN001
    while worker.run_once():
        pass


@pytest.fixture
def submitted_three(db, demo, bank) -> list[int]:  # noqa: ANN001
    """Three stubs waiting to be graded: the student's for two exercises, another student's for one."""
    other = add_user(db, "other@example.edu")
    ids = []
    with db.unit_of_work() as session:
        for email, slug in ((demo["student"].email, SLUG), (demo["student"].email, OTHER), (other.email, SLUG)):
            stub = bank.exercise(slug).stub_path.read_bytes()
            accepted = submissions.submit(session, accounts.user_by_email(session, email), slug, "stub.py", stub,
                                          1 << 20, origin="cli")
            ids.append(accepted.submission.id)
    return ids


@pytest.fixture
def graded_three(db, submitted_three, bank, sandbox, service_config):  # noqa: ANN001, ANN201
    ids = submitted_three
    worker = Worker(service_config, db, bank, sandbox)
    grade_everything(db, worker)
    return ids, worker


def runs_of(db, submission_id: int) -> list[tuple[str, str]]:  # noqa: ANN001
    with db.reading() as session:
        return [(r.reason, r.status) for r in session.scalars(
            select(GradingRun).where(GradingRun.submission_id == submission_id).order_by(GradingRun.id))]


def test_regrade_by_each_selector_queues_new_runs_keeps_history_and_skips_busy_ones(grader_cli, db, demo, bank,
                                                                                      graded_three):
    (mine, mine_other, theirs), worker = graded_three
    with db.unit_of_work() as session:  # as if the bank had changed since the last sync
        session.execute(update(Exercise).where(Exercise.slug == SLUG).values(content_hash="stale"))

    result = grader_cli("regrade", "--submission", str(mine), "--reason", "tolerance fixed")
    assert "queued 1 regrade(s); skipped 0" in result.stdout and result.exit_code == 0
    assert f"changed since the last sync: {SLUG}" in result.stderr
    assert "queued 1 regrade(s); skipped 1" in grader_cli("regrade", "--exercise", SLUG).stdout  # theirs; mine busy
    assert "queued 1 regrade(s); skipped 1" in grader_cli("regrade", "--user", demo["student"].email).stdout
    assert "queued 0 regrade(s); skipped 3" in grader_cli("regrade", "--all").stdout

    grade_everything(db, worker)
    assert runs_of(db, mine) == [("submission", "graded"), ("regrade", "graded")]
    with db.reading() as session:
        assert catalog.exercise_by_slug(session, SLUG).content_hash == catalog.content_hash(bank.exercise(SLUG))
        (first,) = regrades.history(session, mine)
        assert first.reason == "tolerance fixed" and first.old_score == first.new_score is not None


def test_regrade_all_with_wait_reports_progress_until_the_workers_are_done(grader_cli, db, demo, graded_three):
    ids, worker = graded_three
    stop = threading.Event()

    def work() -> None:
        while not stop.is_set():
            if not worker.run_once():
                stop.wait(0.05)

    thread = threading.Thread(target=work, daemon=True)
    thread.start()
    try:
        result = grader_cli("regrade", "--all", "--course", "demo", "--wait")
    finally:
        stop.set()
        thread.join(timeout=60)
    assert result.exit_code == 0, result.output
    assert "queued 3 regrade(s)" in result.stdout and "[3/3] graded" in result.stderr
    assert "regraded 3: 3 graded, 0 failed; 0 score(s) changed" in result.stdout
    assert all(runs_of(db, i) == [("submission", "graded"), ("regrade", "graded")] for i in ids)


def test_regrade_dry_run_lists_what_it_would_do_and_queues_nothing(grader_cli, db, submitted_three):
    mine, _, theirs = submitted_three
    with db.unit_of_work() as session:  # as if the first had been graded
        session.execute(update(GradingRun).where(GradingRun.submission_id == mine).values(
            status="graded", score=3.0, max_score=10.0))
    result = grader_cli("regrade", "--exercise", SLUG, "--dry-run")
    assert result.exit_code == 0
    header, *rows, _ = [line.split() for line in result.stdout.splitlines()]
    assert header == ["ACTION", "SUBMISSION", "USER", "EXERCISE", "COURSE", "SCORE"]
    assert rows == [["regrade", str(mine), "student@example.com", SLUG, "demo", "3/10"],
                    ["skip", "(queued)", str(theirs), "other@example.edu", SLUG, "demo", "-"]]
    assert result.stdout.splitlines()[-1] == "would queue 1 regrade(s); would skip 1 (already queued or running)"
    assert len(runs_of(db, mine)) == 1


def test_regrade_with_wait_and_nothing_queued_returns_at_once(grader_cli, demo):
    result = grader_cli("regrade", "--all", "--wait")
    assert result.exit_code == 0 and "queued 0 regrade(s)" in result.stdout
    assert "nothing to wait for" in result.stderr


@pytest.mark.parametrize("selectors", [[], ["--all", "--exercise", SLUG], ["--user", "a@b.c", "--submission", "1"]])
def test_regrade_needs_exactly_one_selector(grader_cli, demo, selectors):
    result = grader_cli("regrade", *selectors)
    assert result.exit_code == 2
    assert "choose exactly one of --exercise, --user, --submission, --all" in result.stderr


def test_regrade_of_an_unknown_exercise_is_an_error(grader_cli, demo):
    result = grader_cli("regrade", "--exercise", "no-such-exercise")
    assert result.exit_code == 1 and "no exercise 'no-such-exercise'" in result.stderr


# ----------------------------------------------------------------------------- submit
def submit_cli(*args: str, env: dict | None = None) -> Result:
    result = CliRunner().invoke(main, ["submit", *args], env={"GRADER_CLIENT_CONFIG": "/nonexistent.toml",
                                                              "GRADER_SERVER": None, "GRADER_TOKEN": None,
                                                              **(env or {})})
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert "Traceback" not in result.output
    return result


@pytest.fixture
def student_token(live_service) -> str:  # noqa: ANN001
    return make_token(live_service.db, live_service.accounts["student"].email)


def test_submitting_the_stub_prints_its_failing_report_and_exits_0(live_service, student_token):
    result = submit_cli(str(STUB), "-e", SLUG, "--server", live_service.url, "--token", student_token)
    assert result.exit_code == 0, result.output
    first = result.stdout.splitlines()[0]
    assert first.startswith(f"{STUB} - {SLUG}: ") and "/10 points" in first
    assert "FAIL" in result.stdout and "Smallest failing input" in result.stdout
    assert "queued" in result.stderr and "… done" in result.stderr and "/api/v1/submissions/" in result.stderr


def test_submit_json_is_one_object_shaped_as_grade_json_with_id_and_url(live_service, student_token):
    result = submit_cli(str(STUB), "--exercise", SLUG, "--json", env={"GRADER_SERVER": live_service.url,
                                                                      "GRADER_TOKEN": student_token})
    assert result.exit_code == 0, result.output
    (line,) = result.stdout.splitlines()
    graded = json.loads(line)
    assert {"file", "exercise", "score", "max_score", "notes", "seconds", "checks", "id", "url"} <= set(graded)
    assert graded["file"] == str(STUB) and graded["exercise"] == SLUG
    assert graded["score"] < graded["max_score"] and graded["url"].endswith(f"/submissions/{graded['id']}")
    assert {"name", "verdict", "points", "max_points"} <= set(graded["checks"][0])


def test_python_client_returns_the_grade_and_shows_it_as_the_report(live_service, student_token):
    from grader.client import submit

    graded = submit(STUB, SLUG, server=live_service.url, token=student_token)
    assert graded.status == "graded" and graded.result.score < graded.result.max_score
    assert str(graded).startswith(f"{STUB} - {SLUG}: ") and graded.to_dict()["id"] == graded.id


def test_submit_reads_server_and_token_from_the_client_config_file(live_service, student_token, tmp_path):
    config = tmp_path / "client.toml"
    config.write_text(f'server = "{live_service.url}/"\ntoken = "{student_token}"\n')
    env = {k: v for k, v in os.environ.items() if k not in ("GRADER_SERVER", "GRADER_TOKEN")}
    run = subprocess.run([sys.executable, "-m", "grader", "submit", str(STUB), "-e", SLUG, "--no-wait", "--json"],
                         env={**env, "GRADER_CLIENT_CONFIG": str(config)}, capture_output=True, text=True,
                         timeout=120)
    assert run.returncode == 0, run.stderr
    accepted = json.loads(run.stdout)
    assert accepted["status"] in ("queued", "running", "graded") and accepted["url"].startswith(live_service.url)


def test_submit_with_a_bad_token_is_a_clear_error(live_service):
    result = submit_cli(str(STUB), "-e", SLUG, "--server", live_service.url, "--token", "tg_not-a-real-token")
    assert result.exit_code == 1
    assert "refused the API token (401)" in result.stderr and "missing, malformed or revoked" in result.stderr


def test_submit_to_an_unknown_exercise_prints_the_apis_message(live_service, student_token):
    result = submit_cli(str(STUB), "-e", "no-such-exercise", "--server", live_service.url, "--token", student_token)
    assert result.exit_code == 1
    assert "the grader said (422): There is no exercise 'no-such-exercise'." in result.stderr


def test_submit_gives_up_after_the_timeout_and_says_where_to_look(live_service, student_token):
    result = submit_cli(str(STUB), "-e", SLUG, "--server", live_service.url, "--token", student_token,
                        "--timeout", "0.001")
    assert result.exit_code == 1
    assert "no grade after 0.001 s" in result.stderr and "/api/v1/submissions/" in result.stderr
    live_service.drain()


def test_submit_to_a_closed_port_is_a_clear_error():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    result = submit_cli(str(STUB), "-e", SLUG, "--server", f"http://127.0.0.1:{port}", "--token", "tg_x")
    assert result.exit_code == 1
    assert f"cannot reach the grader at http://127.0.0.1:{port}: connection refused" in result.stderr


def test_submit_without_a_server_says_how_to_give_one():
    result = submit_cli(str(STUB), "-e", SLUG)
    assert result.exit_code == 1 and "no server given: use --server URL, set GRADER_SERVER" in result.stderr
