"""The JSON API, ``/api/v1``, on both database back ends: submitting (multipart and JSON),
reading the grade back with the same check objects as ``grader grade --json``, hidden checks
withheld from students, the queue position and the delayed flag, the exercise list, health
and the generated OpenAPI document."""

from __future__ import annotations

import copy
import io
import json
import re

import pytest
from service_fixtures import add_user, login, make_token
from sqlalchemy import event

from grader.queue.worker import Worker
from grader.store.models import PRIORITY_REGRADE, CheckRow, GradingRun, Submission
from grader.web import create_app

SLUG = "none-grad-after-rebinding"
HIDDEN_DETAILS = ("description", "hint", "counterexample", "expected", "got", "output")


@pytest.fixture
def token(db, demo) -> str:  # noqa: ANN001
    return make_token(db, demo["student"].email)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def stub_bytes(bank) -> bytes:  # noqa: ANN001
    return bank.exercise(SLUG).stub_path.read_bytes()


def submit_stub(client, token: str, bank) -> dict:  # noqa: ANN001
    response = client.post("/api/v1/submissions", headers=bearer(token),
                           data={"exercise": SLUG, "file": (io.BytesIO(stub_bytes(bank)), "stub.py")})
    assert response.status_code == 202, response.text
    return response.get_json()


def grade_all(service_config, db, bank, sandbox) -> None:  # noqa: ANN001
    worker = Worker(service_config, db, bank, sandbox)
    while worker.run_once():
        pass


def stored_result(db, submission_id: int) -> dict:  # noqa: ANN001
    with db.reading() as session:
        (run,) = session.query(GradingRun).filter_by(submission_id=submission_id).all()
        return copy.deepcopy(run.result)


def hide_failed_check(db, submission_id: int) -> dict:  # noqa: ANN001
    """Make the first failed check of the stored grade a hidden one, as an exercise author
    does with ``@check(visible=False)`` (the bank itself has none); returns that check."""
    with db.unit_of_work() as session:
        (run,) = session.query(GradingRun).filter_by(submission_id=submission_id).all()
        result = copy.deepcopy(run.result)
        index, check = next((i, c) for i, c in enumerate(result["checks"]) if c["verdict"] != "passed")
        check.update(visible=False, hint="a hint only instructors read")
        run.result = result
        session.query(CheckRow).filter_by(run_id=run.id, position=index).update({"visible": False})
        return check


def test_multipart_submission_is_stored_queued_and_answers_202_with_location(client, token, bank, db):
    response = client.post("/api/v1/submissions", headers=bearer(token),
                           data={"exercise": SLUG, "file": (io.BytesIO(stub_bytes(bank)), "stub.py")})
    assert response.status_code == 202
    body = response.get_json()
    assert body["status"] == "queued" and body["queue_position"] == 1 and body["delayed"] is False
    assert body["url"].endswith(f"/api/v1/submissions/{body['id']}")
    assert response.headers["Location"] == body["url"]
    with db.reading() as session:
        stored = session.get(Submission, body["id"])
        assert stored.content == stub_bytes(bank) and stored.origin == "api" and stored.filename == "stub.py"


def test_a_submission_reads_the_token_user_once_and_takes_four_statements(client, token, bank, db):
    """The submit path's round trips: the token's user; the exercise, course, LTI grade link
    and queue ahead in one SELECT; two INSERTs (plus BEGIN on SQLite). The user is not read twice."""
    seen: list[str] = []

    def record(conn, cursor, statement, *args) -> None:  # noqa: ANN001
        seen.append(statement)

    event.listen(db.engine, "before_cursor_execute", record)
    try:
        submit_stub(client, token, bank)
    finally:
        event.remove(db.engine, "before_cursor_execute", record)
    user_reads = [s for s in seen if re.search(r"FROM users\b", s)]
    assert len(user_reads) == 1, user_reads
    assert len([s for s in seen if not s.lstrip().upper().startswith(("BEGIN", "PRAGMA"))]) == 4, seen


def test_json_submission_with_python_source_is_accepted(client, token, bank, db):
    source = stub_bytes(bank).decode()
    response = client.post("/api/v1/submissions", headers=bearer(token),
                           json={"exercise": SLUG, "filename": "fix.py", "source": source})
    assert response.status_code == 202, response.text
    with db.reading() as session:
        stored = session.get(Submission, response.get_json()["id"])
        assert stored.content.decode() == source and stored.format == "py"


@pytest.mark.parametrize("as_object", [True, False], ids=["notebook-object", "notebook-text"])
def test_json_submission_with_a_notebook_is_accepted(client, token, bank, db, as_object):
    notebook = json.loads(bank.exercise(SLUG).notebook_path.read_text())
    body = ({"exercise": SLUG, "source": notebook} if as_object
            else {"exercise": SLUG, "filename": "fix.ipynb", "source": json.dumps(notebook)})
    response = client.post("/api/v1/submissions", headers=bearer(token), json=body)
    assert response.status_code == 202, response.text
    with db.reading() as session:
        stored = session.get(Submission, response.get_json()["id"])
        assert stored.format == "ipynb" and json.loads(stored.content) == notebook


def test_a_queued_submission_says_where_it_is_in_the_queue(client, token, bank):
    first, second = submit_stub(client, token, bank), submit_stub(client, token, bank)
    assert (first["queue_position"], second["queue_position"]) == (1, 2)
    shown = client.get(second["url"], headers=bearer(token)).get_json()
    assert shown["status"] == "queued" and shown["queue_position"] == 2
    assert shown["score"] is None and shown["checks"] == [] and shown["graded_at"] is None


def test_graded_submission_shows_score_and_the_checks_of_grade_json(client, token, bank, db, sandbox,
                                                                    service_config):
    accepted = submit_stub(client, token, bank)
    grade_all(service_config, db, bank, sandbox)
    shown = client.get(accepted["url"], headers=bearer(token))
    assert shown.status_code == 200
    body = shown.get_json()
    result = stored_result(db, accepted["id"])  # GradeResult.to_dict(), as the worker stored it
    assert body["status"] == "graded" and body["exercise"] == SLUG and body["id"] == accepted["id"]
    assert (body["score"], body["max_score"]) == (result["score"], result["max_score"])
    assert 0 < body["max_score"] and body["score"] < body["max_score"]
    # Same keys, same values (absent fields left out); the stored message ids (i18n) are
    # rendered into the texts, in the language asked for, not passed on.
    assert body["checks"] == [{k: v for k, v in c.items() if k != "i18n"} for c in result["checks"]]
    assert any("counterexample" in check for check in body["checks"])
    assert all(None not in check.values() for check in body["checks"])
    assert body["created_at"] and body["graded_at"] and body["queue_position"] is None


def test_student_sees_only_the_verdict_and_points_of_a_hidden_check(client, token, bank, db, sandbox,
                                                                    service_config):
    accepted = submit_stub(client, token, bank)
    grade_all(service_config, db, bank, sandbox)
    hidden = hide_failed_check(db, accepted["id"])
    result = stored_result(db, accepted["id"])

    checks = client.get(accepted["url"], headers=bearer(token)).get_json()["checks"]
    (shown,) = [check for check in checks if check["name"] == hidden["name"]]
    assert set(shown) == {"name", "verdict", "points", "max_points", "visible", "message"}
    assert shown["visible"] is False and shown["verdict"] == hidden["verdict"]
    assert (shown["points"], shown["max_points"]) == (hidden["points"], hidden["max_points"])
    assert shown["message"] != hidden["message"]
    visible = [{k: v for k, v in check.items() if k != "i18n"} for check in result["checks"]
               if check.get("visible", True)]
    assert [check for check in checks if check["visible"]] == visible
    assert "a hint only instructors read" not in json.dumps(checks)


def test_instructor_of_the_course_sees_hidden_checks_in_full(client, token, demo, bank, db, sandbox,
                                                             service_config):
    accepted = submit_stub(client, token, bank)
    grade_all(service_config, db, bank, sandbox)
    hidden = hide_failed_check(db, accepted["id"])
    teacher = make_token(db, demo["instructor"].email)
    body = client.get(accepted["url"], headers=bearer(teacher)).get_json()
    stored = [{k: v for k, v in c.items() if k != "i18n"} for c in stored_result(db, accepted["id"])["checks"]]
    assert body["checks"] == stored
    assert {k: v for k, v in hidden.items() if k != "i18n"} in body["checks"]


def test_instructor_of_another_course_gets_404(client, token, bank, db):
    from grader.store import accounts

    with db.unit_of_work() as session:
        accounts.ensure_course(session, "other", "Another course")
    add_user(db, "elsewhere@example.org", "instructor", course="other")
    accepted = submit_stub(client, token, bank)
    response = client.get(accepted["url"], headers=bearer(make_token(db, "elsewhere@example.org")))
    assert response.status_code == 404 and response.get_json()["error"]["code"] == "not_found"


def test_beyond_the_queue_limit_submissions_say_delayed_and_are_all_kept(service_config, db, demo, token,
                                                                         bank):
    client = create_app(service_config.replace(queue_limit=1), db).test_client()
    answers = [submit_stub(client, token, bank) for _ in range(3)]
    assert answers[0]["delayed"] is False
    assert answers[2]["delayed"] is True and answers[2]["queue_position"] == 3
    assert answers[2]["status"] == "queued"
    with db.reading() as session:
        assert sorted(s.id for s in session.query(Submission).all()) == [a["id"] for a in answers]
        assert session.query(GradingRun).filter_by(status="queued").count() == 3


def test_queued_regrades_are_not_counted_ahead_of_a_new_submission(client, token, bank, db):
    first = submit_stub(client, token, bank)
    with db.unit_of_work() as session:
        session.query(GradingRun).filter_by(submission_id=first["id"]).update({"priority": PRIORITY_REGRADE})
    second = submit_stub(client, token, bank)
    assert second["queue_position"] == 1
    assert client.get(first["url"], headers=bearer(token)).get_json()["queue_position"] == 2


def test_exercise_list_names_every_exercise_of_the_course_with_its_stubs(client, token, bank):
    response = client.get("/api/v1/exercises", headers=bearer(token))
    assert response.status_code == 200
    exercises = response.get_json()["exercises"]
    assert sorted(e["slug"] for e in exercises) == sorted(bank.slugs())
    (one,) = [e for e in exercises if e["slug"] == SLUG]
    assert one["points"] > 0 and one["title"]
    assert client.get(one["stub_py"], headers=bearer(token)).status_code in (200, 302)


def test_health_reports_the_database_and_the_queue_without_a_token(client, token, bank):
    submit_stub(client, token, bank)
    response = client.get("/api/v1/health")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok", "database": True, "queue_length": 1}


def test_a_signed_in_browser_may_read_but_not_submit_without_a_token(client, demo, token, bank):
    accepted = submit_stub(client, token, bank)
    login(client, demo["student"])
    assert client.get(accepted["url"]).status_code == 200
    assert client.get("/api/v1/exercises").status_code == 200
    response = client.post("/api/v1/submissions", json={"exercise": SLUG, "source": "x = 1\n"})
    assert response.status_code == 401 and response.get_json()["error"]["code"] == "unauthorized"


def test_a_revoked_token_is_refused(client, db, token):
    from grader.store.models import ApiToken, utcnow

    with db.unit_of_work() as session:
        session.query(ApiToken).update({"revoked_at": utcnow()})
    response = client.get("/api/v1/exercises", headers=bearer(token))
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_openapi_document_is_generated_from_every_api_route(app, client):
    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200
    document = response.get_json()
    assert document["openapi"].startswith("3.")
    routes = {re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule.rule)
              for rule in app.url_map.iter_rules()
              if rule.endpoint.startswith("api.") and rule.endpoint != "api.openapi_document"}
    assert set(document["paths"]) == routes
    submit = document["paths"]["/api/v1/submissions"]["post"]
    assert {"202", "400", "401", "413", "415", "422", "429"} <= set(submit["responses"])
    assert set(submit["requestBody"]["content"]) == {"multipart/form-data", "application/json"}
    schemas = document["components"]["schemas"]
    assert schemas["SubmissionOut"]["properties"]["checks"]["items"] == {"$ref": "#/components/schemas/Check"}
    assert set(schemas["Check"]["required"]) == {"name", "verdict", "points", "max_points"}
