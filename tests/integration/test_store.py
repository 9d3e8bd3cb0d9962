"""The store's services against a real database: SQLite's connection settings, accounts,
the catalog, submissions and regrades (every test taking ``db`` runs on both back ends)."""

from __future__ import annotations

import hashlib
import shutil
import sqlite3
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import create_engine, func, select, text

from grader.engine.bank import Bank
from grader.queue import claims
from grader.store import accounts, catalog, migrate, regrades, scores, submissions
from grader.store.db import SQLITE_BUSY_MS, Database
from grader.store.models import (PRIORITY_INTERACTIVE, PRIORITY_REGRADE, ApiToken, Course, Exercise, GradingRun,
                                 Regrade, Submission, User, utcnow)
from grader.store.submissions import SubmissionRejected

ROOT = Path(__file__).resolve().parents[2]
SLUG = "manual-sgd-step"
MAX_BYTES = 1 << 20
SOURCE = b"def sgd_step(params, lr):\n    return params\n"


STUDENT, INSTRUCTOR = "student@example.com", "instructor@example.com"


@pytest.fixture
def demo_course(db: Database, bank: Bank) -> None:
    """The demo course with the whole bank, its instructor and a student. Without passwords:
    Argon2 is slow on purpose, and only the accounts tests sign anybody in."""
    with db.unit_of_work() as session:
        course = accounts.ensure_course(session, "demo")
        catalog.add_to_course(session, course, catalog.sync_exercises(session, bank))
        for email, role in ((INSTRUCTOR, "instructor"), (STUDENT, "student")):
            accounts.enrol(session, accounts.create_user(session, email, role=role), course)


def add_person(db: Database, email: str, role: str = "student", course: str = "demo") -> None:
    with db.unit_of_work() as session:
        accounts.enrol(session, accounts.create_user(session, email, role=role), accounts.course(session, course))


def user(session, email: str) -> User:  # noqa: ANN001
    found = accounts.user_by_email(session, email)
    assert found is not None, email
    return found


def count(session, model) -> int:  # noqa: ANN001
    return session.scalar(select(func.count()).select_from(model))


def submit(db: Database, email: str, data: bytes = SOURCE, slug: str = SLUG, filename: str = "sgd.py") -> int:
    with db.unit_of_work() as session:
        return submissions.submit(session, user(session, email), slug, filename, data, MAX_BYTES).submission.id


def result_of(score: float, slug: str = SLUG) -> dict:
    """A GradeResult.to_dict() as the worker would store it, without grading anything."""
    return {"file": "sgd.py", "exercise": slug, "score": score, "max_score": 10.0, "notes": [], "seconds": 0.01,
            "checks": [{"name": "updates_in_place", "verdict": "passed" if score else "failed", "points": score,
                        "max_points": 10.0, "message": "", "visible": True}]}


def grade_queued(db: Database, score: float) -> list[int]:
    """Claim and finish every queued run with ``score``; returns the run ids."""
    done = []
    while True:
        with db.unit_of_work() as session:
            claim = claims.claim_next(session, claims.new_owner(), 30, 3)
            if claim is None:
                return done
            assert claims.finish_run(session, claim, result_of(score), "hash", "test") is not None
            done.append(claim.run_id)


# ------------------------------------------------------------------------ SQLite connections
@pytest.fixture
def sqlite_db(tmp_path: Path):
    database = Database(f"sqlite:///{tmp_path / 'grader.db'}")
    migrate.upgrade(database.engine)
    yield database
    database.dispose()


def test_sqlite_connections_use_wal_foreign_keys_and_a_busy_timeout(sqlite_db):
    for opened in (sqlite_db.reading, sqlite_db.unit_of_work):
        with opened() as session:
            assert session.execute(text("PRAGMA journal_mode")).scalar() == "wal"
            assert session.execute(text("PRAGMA foreign_keys")).scalar() == 1
            assert session.execute(text("PRAGMA busy_timeout")).scalar() == SQLITE_BUSY_MS


def test_sqlite_enforces_foreign_keys(sqlite_db):
    with pytest.raises(Exception, match="FOREIGN KEY"):
        with sqlite_db.unit_of_work() as session:
            session.add(ApiToken(user_id=12345, token_hash="0" * 64, prefix="tg_x"))


def test_sqlite_unit_of_work_takes_the_write_lock_when_it_begins(sqlite_db, tmp_path):
    other = sqlite3.connect(tmp_path / "grader.db", timeout=0, isolation_level=None)
    try:
        with sqlite_db.reading() as session:
            session.execute(select(1))
            other.execute("BEGIN IMMEDIATE")  # a reader does not hold the write lock
            other.execute("ROLLBACK")
        with sqlite_db.unit_of_work() as session:
            session.execute(select(1))  # nothing written yet
            with pytest.raises(sqlite3.OperationalError, match="locked"):
                other.execute("BEGIN IMMEDIATE")
    finally:
        other.close()


def test_sqlite_concurrent_read_then_write_units_of_work_never_hit_busy(sqlite_db):
    """A deferred transaction that reads, waits, then writes fails with SQLITE_BUSY when another
    writer committed meanwhile; BEGIN IMMEDIATE makes the second one wait instead."""
    barrier, errors = threading.Barrier(4), []

    def read_then_write() -> None:
        barrier.wait()
        try:
            with sqlite_db.unit_of_work() as session:
                existing = count(session, Course)
                time.sleep(0.05)
                session.add(Course(id=f"course-{existing}", title="x"))
        except Exception as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=read_then_write) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert errors == []
    with sqlite_db.reading() as session:
        assert sorted(session.scalars(select(Course.id))) == [f"course-{n}" for n in range(4)]


# ------------------------------------------------------------------------------- accounts
def test_emails_are_normalised_and_a_duplicate_is_rejected(db):
    with db.unit_of_work() as session:
        made = accounts.create_user(session, "  Ada.Lovelace@Example.ORG ", "Ada", password="analytical-1")
        assert made.email == "ada.lovelace@example.org"
    with db.unit_of_work() as session:
        with pytest.raises(accounts.AccountError, match="exists"):
            accounts.create_user(session, "ADA.lovelace@example.org")
        assert accounts.user_by_email(session, "ada.LOVELACE@example.org ").id == made.id
        for bad in ("", "   ", "no-at-sign", "two words@example.org", "@", "nobody@", "@example.org"):
            with pytest.raises(accounts.AccountError):
                accounts.create_user(session, bad)
        with pytest.raises(accounts.AccountError, match="role"):
            accounts.create_user(session, "x@example.org", role="admin")
        with pytest.raises(accounts.AccountError, match="8 characters"):
            accounts.create_user(session, "y@example.org", password="short")
    with db.reading() as session:
        assert count(session, User) == 1


def test_passwords_are_argon2id_and_authenticate_only_the_right_one(db):
    with db.unit_of_work() as session:
        accounts.create_user(session, "grace@example.org", "Grace", password="cobol-forever")
    with db.reading() as session:
        stored = user(session, "grace@example.org").password_hash
        assert stored.startswith("$argon2id$") and "cobol-forever" not in stored
        assert accounts.authenticate(session, "Grace@Example.org", "cobol-forever").email == "grace@example.org"
        assert accounts.authenticate(session, "grace@example.org", "cobol-forever!") is None
        assert accounts.authenticate(session, "grace@example.org", "") is None
        assert accounts.authenticate(session, "nobody@example.org", "cobol-forever") is None
        assert accounts.authenticate(session, "not an email", "cobol-forever") is None


def test_a_user_without_a_password_cannot_sign_in(db):
    with db.unit_of_work() as session:
        accounts.create_user(session, "sso@example.org")
    with db.reading() as session:
        assert accounts.authenticate(session, "sso@example.org", "") is None
        assert accounts.authenticate(session, "sso@example.org", "not a password") is None


def test_only_the_sha256_of_an_api_token_is_stored(db):
    with db.unit_of_work() as session:
        owner = accounts.create_user(session, "token@example.org")
        token = accounts.create_token(session, owner, "laptop")
    assert token.startswith(accounts.TOKEN_PREFIX)
    with db.reading() as session:
        (row,) = session.scalars(select(ApiToken))
        assert row.token_hash == hashlib.sha256(token.encode()).hexdigest()
        assert row.prefix == token[:10] and row.name == "laptop"
        stored = session.execute(text("SELECT * FROM api_tokens")).one()
        assert all(token not in str(value) for value in stored)
        assert accounts.user_for_token(session, token).email == "token@example.org"


def test_a_revoked_or_malformed_token_finds_no_user(db):
    with db.unit_of_work() as session:
        owner = accounts.create_user(session, "revoked@example.org")
        kept, revoked = accounts.create_token(session, owner), accounts.create_token(session, owner)
    with db.unit_of_work() as session:
        row = session.scalar(select(ApiToken).where(ApiToken.prefix == revoked[:10]))
        row.revoked_at = utcnow()
    with db.reading() as session:
        assert accounts.user_for_token(session, kept) is not None
        assert accounts.user_for_token(session, revoked) is None
        flipped = kept[:-1] + ("A" if kept[-1] != "A" else "B")
        for bad in ("", "tg_", kept[len(accounts.TOKEN_PREFIX):], flipped, "tg_" + "x" * 300, "Bearer " + kept,
                    kept + "\x00"):
            assert accounts.user_for_token(session, bad) is None, bad


def test_import_roster_creates_new_students_enrols_existing_ones_and_reports_bad_lines(db):
    with db.unit_of_work() as session:
        course = accounts.ensure_course(session, "ml101", "Machine learning")
        accounts.create_user(session, "known@example.org", "Known", password="known-password")
        report = accounts.import_roster(session, "email,name\nAlice@Example.org, Alice A\n\n"
                                        "not-an-email,Bob\nknown@example.org,Ignored Name\ncarol@example.org\n",
                                        course)
    assert [email for email, _ in report.created] == ["alice@example.org", "carol@example.org"]
    assert report.enrolled == ["known@example.org"]
    assert len(report.errors) == 1 and report.errors[0].startswith("line 4:") and "not-an-email" in report.errors[0]
    with db.reading() as session:
        alice = user(session, "alice@example.org")
        assert alice.display_name == "Alice A" and alice.role == "student"
        assert user(session, "known@example.org").display_name == "Known"
        for email, password in report.created:
            assert accounts.authenticate(session, email, password) is not None
        enrolled = {u.email for u in session.scalars(select(User))
                    if "ml101" in [c.id for c in accounts.courses_of(session, u)]}
        assert enrolled == {"alice@example.org", "carol@example.org", "known@example.org"}


def test_import_roster_twice_creates_nobody_the_second_time(db):
    with db.unit_of_work() as session:
        course = accounts.ensure_course(session, "ml101")
        accounts.import_roster(session, "dora@example.org,Dora\n", course)
    with db.unit_of_work() as session:
        again = accounts.import_roster(session, "dora@example.org,Dora\n", accounts.course(session, "ml101"))
    assert again.created == [] and again.enrolled == ["dora@example.org"] and again.errors == []


def test_import_roster_knows_a_header_after_blank_lines_or_a_byte_order_mark(db):
    with db.unit_of_work() as session:
        course = accounts.ensure_course(session, "ml101")
        with_bom = accounts.import_roster(session, "\ufeffEmail,Name\r\neve@example.org,Eve\r\n", course)
        blank_first = accounts.import_roster(session, "\n\nemail,name\nfay@example.org,Fay\n", course)
    assert with_bom.errors == [] and [e for e, _ in with_bom.created] == ["eve@example.org"]
    assert blank_first.errors == [] and [e for e, _ in blank_first.created] == ["fay@example.org"]


# -------------------------------------------------------------------------------- catalog
def test_sync_exercises_inserts_the_bank_once(db, bank):
    with db.unit_of_work() as session:
        rows = catalog.sync_exercises(session, bank)
        assert [row.slug for row in rows] == bank.slugs() and len(rows) == 10
        first = {row.slug: (row.id, row.content_hash, row.synced_at) for row in rows}
    with db.unit_of_work() as session:
        again = catalog.sync_exercises(session, bank)
        assert {row.slug: (row.id, row.content_hash, row.synced_at) for row in again} == first
    with db.reading() as session:
        assert count(session, Exercise) == 10
        row = catalog.exercise_by_slug(session, SLUG)
        exercise = bank.exercise(SLUG)
        assert (row.title, row.summary, row.points) == (exercise.title, exercise.summary, exercise.points)
        assert catalog.exercise_by_slug(session, "no-such-exercise") is None


@pytest.fixture
def bank_copy(tmp_path: Path) -> Bank:
    shutil.copytree(ROOT / "exercises", tmp_path / "bank" / "exercises",
                    ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(ROOT / "solutions", tmp_path / "bank" / "solutions")
    return Bank(tmp_path / "bank")


def test_content_hash_follows_the_checks_and_ignores_the_stub_and_statement(bank_copy):
    folder = bank_copy.exercises_dir / SLUG
    before = catalog.content_hash(bank_copy.exercise(SLUG))
    assert before == catalog.content_hash(Bank(ROOT).exercise(SLUG))
    (folder / "stub.py").write_text("# a different stub\n")
    (folder / "README.md").write_text("# A different statement\n")
    assert catalog.content_hash(bank_copy.exercise(SLUG)) == before
    for name in ("checks.py", "driver.py", "exercise.toml"):
        path = folder / name
        original = path.read_bytes()
        path.write_bytes(original + b"\n# changed\n")
        assert catalog.content_hash(bank_copy.exercise(SLUG)) != before, name
        path.write_bytes(original)
    (folder / "helpers.py").write_text("X = 1\n")  # a sibling module of the checks package
    assert catalog.content_hash(bank_copy.exercise(SLUG)) != before


def test_sync_exercises_updates_the_hash_when_a_check_changes(db, bank_copy):
    with db.unit_of_work() as session:
        catalog.sync_exercises(session, bank_copy)
    with db.reading() as session:
        old = catalog.exercise_by_slug(session, SLUG)
    checks = bank_copy.exercises_dir / SLUG / "checks.py"
    checks.write_text(checks.read_text() + "\n# a fixed check\n")
    with db.unit_of_work() as session:
        catalog.sync_exercises(session, bank_copy)
    with db.reading() as session:
        new = catalog.exercise_by_slug(session, SLUG)
        assert new.id == old.id and new.content_hash != old.content_hash
        assert new.content_hash == catalog.content_hash(bank_copy.exercise(SLUG))
        assert new.synced_at >= old.synced_at
        others = {row.slug: row.content_hash for row in session.scalars(select(Exercise)) if row.slug != SLUG}
        assert len(others) == 9


def test_course_exercises_keep_their_order_and_adding_again_changes_nothing(db, bank):
    with db.unit_of_work() as session:
        rows = catalog.sync_exercises(session, bank)
        course = accounts.ensure_course(session, "ml101")
        catalog.add_to_course(session, course, rows[3:5])
        catalog.add_to_course(session, course, rows[2:6])
    with db.reading() as session:
        assert [e.slug for e in catalog.course_exercises(session, "ml101")] == [
            rows[3].slug, rows[4].slug, rows[2].slug, rows[5].slug]
        assert catalog.in_course(session, "ml101", rows[2])
        assert not catalog.in_course(session, "ml101", rows[0])


# ---------------------------------------------------------------------------- submissions
def test_submit_stores_the_bytes_exactly_with_their_hash_size_and_format(db, demo_course, bank):
    data = b"\xef\xbb\xbf# caf\xc3\xa9\r\ndef sgd_step(params, lr):\r\n    return params  \r\n\n\t\n"
    notebook = bank.exercise(SLUG).notebook_path.read_bytes()
    with db.unit_of_work() as session:
        student = user(session, STUDENT)
        py = submissions.submit(session, student, SLUG, "C:\\Users\\me\\My Work.py", data, MAX_BYTES, origin="api")
        nb = submissions.submit(session, student, SLUG, "stub.IPYNB", notebook, MAX_BYTES)
        ids = py.submission.id, nb.submission.id
        assert py.run.submission_id == ids[0] and py.run.status == "queued"
        assert py.run.priority == PRIORITY_INTERACTIVE and py.run.reason == "submission"
    with db.reading() as session:
        stored = session.get(Submission, ids[0])
        assert stored.content == data and stored.size == len(data)
        assert stored.sha256 == hashlib.sha256(data).hexdigest()
        assert (stored.format, stored.filename, stored.origin, stored.course_id) == ("py", "My Work.py", "api", "demo")
        assert stored.exercise.slug == SLUG and stored.user.email == STUDENT
        ipynb = session.get(Submission, ids[1])
        assert ipynb.content == notebook and ipynb.format == "ipynb"
        assert [r.status for r in stored.runs] == ["queued"] and stored.created_at.tzinfo is not None


def test_a_submission_and_its_run_commit_together_or_not_at_all(db, demo_course):
    with pytest.raises(RuntimeError, match="after submit"):
        with db.unit_of_work() as session:
            accepted = submissions.submit(session, user(session, STUDENT), SLUG, "a.py", SOURCE,
                                          MAX_BYTES)
            assert accepted.submission.id and accepted.run.id
            raise RuntimeError("after submit")
    with db.reading() as session:
        assert count(session, Submission) == 0 and count(session, GradingRun) == 0


REJECTED = [
    # filename, data, code, status
    ("empty.py", b"", "empty_file", 422),
    ("blank.py", b"  \r\n\t\n   ", "empty_file", 422),
    ("binary.py", b"x = 1\n\x00\x00\x01\x02", "binary_file", 422),
    ("latin1.py", "name = 'Jos\xe9'\n".encode("latin-1"), "not_utf8", 422),
    ("broken.ipynb", b'{"cells": [{"cell_type": "code", ', "bad_notebook", 422),
    ("data.ipynb", b'{"weights": [1, 2, 3]}', "bad_notebook", 422),
    ("list.ipynb", b"[1, 2]", "bad_notebook", 422),
    ("huge.py", b"#" * (MAX_BYTES + 1), "too_large", 413),
    ("notes.txt", SOURCE, "unsupported_type", 415),
    ("Makefile", SOURCE, "unsupported_type", 415),
    ("solution.py.zip", SOURCE, "unsupported_type", 415),
]


def test_submit_rejects_what_could_never_be_graded_with_a_stable_code(db, demo_course):
    with db.unit_of_work() as session:
        student = user(session, STUDENT)
        for filename, data, code, status in REJECTED:
            with pytest.raises(SubmissionRejected) as caught:
                submissions.submit(session, student, SLUG, filename, data, MAX_BYTES)
            rejected = caught.value
            assert (rejected.code, rejected.status, rejected.field) == (code, status, "file"), filename
            assert rejected.message[:1].isupper() and rejected.message.endswith((".", "?")), rejected.message
    with db.reading() as session:
        assert count(session, Submission) == 0 and count(session, GradingRun) == 0


def test_submit_rejects_an_unknown_exercise_or_one_outside_the_students_courses(db, demo_course, bank):
    with db.unit_of_work() as session:
        other = accounts.ensure_course(session, "ml101")
        extra = catalog.sync_exercises(session, bank)
        accounts.create_user(session, "outsider@example.org")
        loner = accounts.create_user(session, "loner@example.org")
        accounts.enrol(session, loner, other)
        catalog.add_to_course(session, other, [extra[0]])
    with db.unit_of_work() as session:
        student, loner = user(session, STUDENT), user(session, "loner@example.org")
        cases = [
            (student, "no-such-exercise", None, "unknown_exercise", "exercise"),
            (student, "", None, "unknown_exercise", "exercise"),
            (user(session, "outsider@example.org"), SLUG, None, "unknown_exercise", "exercise"),
            (loner, SLUG, None, "unknown_exercise", "exercise"),  # ml101 has only the first exercise
            (loner, extra[0].slug, "demo", "unknown_course", "course"),  # not enrolled in demo
            (student, SLUG, "no-such-course", "unknown_course", "course"),
        ]
        for who, slug, course_id, code, field in cases:
            with pytest.raises(SubmissionRejected) as caught:
                submissions.submit(session, who, slug, "a.py", SOURCE, MAX_BYTES, course_id=course_id)
            assert (caught.value.code, caught.value.field) == (code, field), (who.email, slug, course_id)
        accepted = submissions.submit(session, loner, extra[0].slug, "a.py", SOURCE, MAX_BYTES)
        assert accepted.submission.course_id == "ml101"
    with db.reading() as session:
        assert count(session, Submission) == 1


def test_submit_without_a_course_goes_to_the_first_enrolled_course_that_has_the_exercise(db, demo_course, bank):
    with db.unit_of_work() as session:
        exercises = catalog.sync_exercises(session, bank)
        first, second, third = (accounts.ensure_course(session, name) for name in ("first", "second", "third"))
        catalog.add_to_course(session, first, [exercises[1]])
        catalog.add_to_course(session, second, exercises)
        catalog.add_to_course(session, third, exercises)
        student = accounts.create_user(session, "two-courses@example.org")
        for course in (first, second, third):
            accounts.enrol(session, student, course)
    with db.unit_of_work() as session:
        student = user(session, "two-courses@example.org")
        assert submissions.submit(session, student, exercises[0].slug, "a.py", SOURCE, MAX_BYTES).submission.course_id \
            == "second"
        assert submissions.submit(session, student, exercises[1].slug, "a.py", SOURCE, MAX_BYTES).submission.course_id \
            == "first"


def test_queue_position_orders_by_priority_then_age(db, demo_course):
    first, second = submit(db, STUDENT), submit(db, STUDENT)
    with db.unit_of_work() as session:
        regrade = GradingRun(submission_id=first, priority=PRIORITY_REGRADE, reason="regrade")
        session.add(regrade)
    third = submit(db, STUDENT)  # newer than the regrade run, but interactive
    with db.reading() as session:
        runs = {r.submission_id if r.priority == PRIORITY_INTERACTIVE else "regrade": r
                for r in session.scalars(select(GradingRun))}
        positions = {key: submissions.queue_position(session, run) for key, run in runs.items()}
        assert positions == {first: 1, second: 2, third: 3, "regrade": 4}
        assert submissions.queue_length(session) == 4
    with db.unit_of_work() as session:
        claim = claims.claim_next(session, "t:1:a", 30, 3)
        assert claim.submission_id == first
    with db.reading() as session:
        runs = {r.id: r for r in session.scalars(select(GradingRun))}
        assert submissions.queue_position(session, runs[claim.run_id]) is None
        assert sorted(submissions.queue_position(session, r) for r in runs.values() if r.id != claim.run_id) == [
            1, 2, 3]
        assert submissions.queue_length(session) == 3


def test_get_for_shows_a_submission_to_its_owner_and_the_courses_instructors_only(db, demo_course):
    add_person(db, "classmate@example.org")
    with db.unit_of_work() as session:
        accounts.ensure_course(session, "ml101")
    add_person(db, "elsewhere@example.org", role="instructor", course="ml101")
    mine = submit(db, STUDENT)
    with db.reading() as session:
        assert submissions.get_for(session, user(session, STUDENT), mine).id == mine
        assert submissions.get_for(session, user(session, "classmate@example.org"), mine) is None
        assert submissions.get_for(session, user(session, INSTRUCTOR), mine).id == mine
        assert submissions.get_for(session, user(session, "elsewhere@example.org"), mine) is None
        assert submissions.get_for(session, user(session, STUDENT), mine + 1000) is None
        instructor = user(session, INSTRUCTOR)
        assert submissions.can_teach(session, instructor, "demo")
        assert not submissions.can_teach(session, instructor, "ml101")
        assert not submissions.can_teach(session, user(session, STUDENT), "demo")


def test_history_lists_a_students_submissions_newest_first_and_shown_result_the_newest_finished(db, demo_course):
    ids = [submit(db, STUDENT) for _ in range(2)]
    grade_queued(db, 4.0)
    with db.reading() as session:
        student = user(session, STUDENT)
        exercise = catalog.exercise_by_slug(session, SLUG)
        listed = submissions.history(session, student, exercise.id)
        assert [s.id for s in listed] == ids[::-1]
        assert submissions.shown_result(listed[0]).score == 4.0
        assert submissions.history(session, user(session, INSTRUCTOR), exercise.id) == []


# ------------------------------------------------------------------------------- regrades
def test_request_regrade_queues_a_regrade_run_with_the_old_score_and_skips_pending_ones(db, demo_course):
    graded = submit(db, STUDENT)
    grade_queued(db, 4.0)
    pending = submit(db, STUDENT)
    with db.unit_of_work() as session:
        chosen = regrades.select_submissions(session, exercise=SLUG)
        assert [s.id for s in chosen] == [graded, pending]
        report = regrades.request_regrade(session, chosen, user(session, INSTRUCTOR), "fixed a check")
    assert report.skipped == [pending] and len(report.queued) == 1
    with db.reading() as session:
        run = session.get(GradingRun, report.queued[0])
        assert (run.submission_id, run.priority, run.reason, run.status) == (
            graded, PRIORITY_REGRADE, "regrade", "queued")
        (row,) = regrades.history(session, graded)
        assert row.run_id == run.id and row.old_score == 4.0 and row.new_score is None
        assert row.reason == "fixed a check" and row.requested_by.email == INSTRUCTOR
        assert regrades.progress(session, report.queued) == {"queued": 1, "running": 0, "graded": 0, "failed": 0}


def test_a_finished_regrade_records_the_new_score_and_leaves_the_old_run_untouched(db, demo_course):
    graded = submit(db, STUDENT)
    (first_run,) = grade_queued(db, 4.0)
    with db.reading() as session:
        before = session.get(GradingRun, first_run)
        snapshot = (before.status, before.score, before.result, before.finished_at, before.exercise_hash)
    with db.unit_of_work() as session:
        report = regrades.request_regrade(session, regrades.select_submissions(session, submission_id=graded), None)
    assert grade_queued(db, 9.0) == report.queued
    with db.reading() as session:
        (row,) = regrades.history(session, graded)
        assert (row.old_score, row.new_score, row.requested_by) == (4.0, 9.0, None)
        after = session.get(GradingRun, first_run)
        assert (after.status, after.score, after.result, after.finished_at, after.exercise_hash) == snapshot
        assert len(after.checks) == 1 and after.checks[0].points == 4.0
        assert [s.score for s in scores.scored_submissions(session)] == [9.0]
        assert regrades.progress(session, report.queued)["graded"] == 1


def test_requesting_the_same_regrade_twice_in_one_unit_of_work_queues_it_once(db, demo_course):
    graded = submit(db, STUDENT)
    grade_queued(db, 4.0)
    with db.unit_of_work() as session:
        chosen = regrades.select_submissions(session, submission_id=graded)
        first = regrades.request_regrade(session, chosen, None)
        second = regrades.request_regrade(session, chosen, None)
        twice = regrades.request_regrade(session, chosen + chosen, None)
    assert len(first.queued) == 1 and second.queued == [] and second.skipped == [graded]
    assert twice.queued == []
    with db.reading() as session:
        assert count(session, Regrade) == 1


def test_the_old_score_of_a_regrade_is_the_score_the_gradebook_counts(db, demo_course):
    """A failed run has no score; the gradebook keeps counting the newest graded one."""
    graded = submit(db, STUDENT)
    grade_queued(db, 4.0)
    with db.unit_of_work() as session:
        regrades.request_regrade(session, regrades.select_submissions(session, submission_id=graded), None)
    with db.unit_of_work() as session:
        claim = claims.claim_next(session, "t:1:a", 30, 1)
        claims.give_back(session, claim, "RuntimeError: checks failed to import", max_attempts=1)
    with db.unit_of_work() as session:
        report = regrades.request_regrade(session, regrades.select_submissions(session, submission_id=graded), None)
    with db.reading() as session:
        assert [r.status for r in session.get(Submission, graded).runs] == ["graded", "failed", "queued"]
        assert session.scalar(select(Regrade).where(Regrade.run_id == report.queued[0])).old_score == 4.0


def test_select_submissions_by_exercise_user_submission_course_or_everything(db, demo_course, bank):
    add_person(db, "second@example.org")
    mine = [submit(db, STUDENT), submit(db, STUDENT, slug="non-leaf-grad")]
    theirs = submit(db, "second@example.org")
    with db.reading() as session:
        def ids(**selector) -> list[int]:  # noqa: ANN003
            return [s.id for s in regrades.select_submissions(session, **selector)]

        assert ids(exercise=SLUG) == [mine[0], theirs]
        assert ids(exercise="non-leaf-grad") == [mine[1]]
        assert ids(user=" Student@Example.com ") == mine
        assert ids(user="second@example.org", exercise=SLUG) == [theirs]
        assert ids(submission_id=theirs) == [theirs]
        assert ids(everything=True) == sorted(mine + [theirs])
        assert ids(everything=True, course="demo") == sorted(mine + [theirs])
        assert ids(everything=True, course="other") == []
        assert ids(exercise="no-such-exercise") == []
        with pytest.raises(ValueError, match="say what to regrade"):
            regrades.select_submissions(session)
        with pytest.raises(ValueError):
            regrades.select_submissions(session, course="demo")


# ----------------------------------------------------------------------------- PostgreSQL pool
def test_a_postgresql_connection_that_died_while_idle_is_replaced_before_it_is_used(db, monkeypatch):
    if db.is_sqlite:
        pytest.skip("PostgreSQL's connection pool")
    from grader.store import db as store_db

    with db.reading() as session:
        dead = session.scalar(text("SELECT pg_backend_pid()"))
    admin = create_engine(db.url)  # from outside the pool, as a restarted server would
    with admin.begin() as connection:
        connection.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": dead})
    admin.dispose()
    monkeypatch.setattr(store_db, "PING_AFTER_IDLE_SECONDS", 0.0)  # as if it had sat idle
    with db.reading() as session:
        assert session.scalar(text("SELECT pg_backend_pid()")) != dead


def test_a_postgresql_connection_used_a_moment_ago_is_not_pinged_again(db, monkeypatch):
    if db.is_sqlite:
        pytest.skip("PostgreSQL's connection pool")
    pings = []
    ping = db.engine.dialect.do_ping
    monkeypatch.setattr(db.engine.dialect, "do_ping", lambda connection: pings.append(1) or ping(connection))
    for _ in range(3):
        with db.unit_of_work() as session:
            session.execute(text("SELECT 1"))
    assert len(pings) <= 1  # at most the new connection's first checkout
