"""``POST /api/v1/webhooks/<source>`` on both database back ends, with real Standard Webhooks
signatures: a signed submission is stored once (origin webhook, reply targets, run queued),
every verification problem is a 401 JSON error, every payload problem a 4xx naming the field,
and a redelivery of the same ``webhook-id`` (also after a restart) answers with the same id."""

from __future__ import annotations

import datetime as dt
import json
import math
import uuid

import pytest
from service_fixtures import add_user, make_token
from sqlalchemy import func, select
from standardwebhooks.webhooks import Webhook

from grader.lms import sources
from grader.store import accounts
from grader.store.db import Database
from grader.store.models import Course, Enrolment, GradingRun, Submission, User
from grader.store.models_lms import ExternalIdentity, InboundMessage, LtiPlatform, ReplyTarget
from grader.web import create_app

SLUG = "none-grad-after-rebinding"
ALLOWED = "https://lms.example.edu/grades/"
ISSUER = "https://platform.example.edu"


@pytest.fixture
def secret(db: Database, demo) -> str:  # noqa: ANN001
    with db.unit_of_work() as session:
        return sources.add_source(session, "lms", [ALLOWED])[1]


def payload(**changes) -> dict:  # noqa: ANN003
    body = {"course": "demo", "assignment": SLUG, "attempt": 1, "submitted_at": "2026-12-01T17:00:00Z",
            "user": {"id": "platform-user-1", "name": "Grace Hopper", "email": "grace@example.edu"},
            "files": [{"name": "fix.py", "content": "import torch\n\ndef fixed():\n    return 1\n"}],
            "reply_to": {"callback": ALLOWED + "hook"}}
    body.update(changes)
    return body


def signed(secret: str, body: bytes, message_id: str | None = None, at: dt.datetime | None = None) -> dict:
    message_id = message_id or f"msg_{uuid.uuid4().hex}"
    at = at or dt.datetime.now(dt.timezone.utc)
    return {"webhook-id": message_id, "webhook-timestamp": str(math.floor(at.timestamp())),
            "webhook-signature": Webhook(secret).sign(message_id, at, body.decode()),
            "Content-Type": "application/json"}


def send(client, secret: str, data: dict | bytes, message_id: str | None = None, source: str = "lms",  # noqa: ANN001
         **kwargs):  # noqa: ANN003, ANN201
    body = data if isinstance(data, bytes) else json.dumps(data).encode()
    return client.post(f"/api/v1/webhooks/{source}", data=body, headers=signed(secret, body, message_id, **kwargs))


def count(db: Database, model) -> int:  # noqa: ANN001
    with db.reading() as session:
        return session.scalar(select(func.count()).select_from(model))


def assert_error(response, status: int, code: str, field: str | None = None) -> dict:  # noqa: ANN001
    assert response.status_code == status, response.text
    error = response.get_json()["error"]
    assert error["code"] == code and error["message"]
    if field is not None:
        assert error["field"] == field, error
    return error


# ----------------------------------------------------------------------------- accepted
def test_signed_webhook_is_stored_as_a_webhook_submission_with_reply_target_and_queued_run(client, db, secret):
    response = send(client, secret, payload(), message_id="msg-1")
    assert response.status_code == 202, response.text
    body = response.get_json()
    assert set(body) == {"submission_id", "status_url"}
    assert body["status_url"] == f"http://localhost/api/v1/submissions/{body['submission_id']}"
    assert response.headers["Location"] == body["status_url"]
    with db.reading() as session:
        submission = session.get(Submission, body["submission_id"])
        assert (submission.origin, submission.course_id, submission.exercise.slug, submission.filename) == \
            ("webhook", "demo", SLUG, "fix.py")
        assert submission.content == payload()["files"][0]["content"].encode()
        assert [run.status for run in submission.runs] == ["queued"]
        (target,) = session.scalars(select(ReplyTarget).where(ReplyTarget.submission_id == submission.id))
        assert (target.kind, target.url, target.source.name, target.subject) == \
            ("callback", ALLOWED + "hook", "lms", "platform-user-1")
        (message,) = session.scalars(select(InboundMessage))
        assert (message.message_id, message.submission_id, message.source.name) == ("msg-1", submission.id, "lms")
        identity = session.scalar(select(ExternalIdentity).where(ExternalIdentity.issuer == "webhook:lms"))
        assert identity.subject == "platform-user-1" and identity.user_id == submission.user_id
        user = session.get(User, submission.user_id)
        assert (user.email, user.display_name, user.role) == ("grace@example.edu", "Grace Hopper", "student")
        assert session.scalar(select(Enrolment.role).where(Enrolment.user_id == user.id,
                                                           Enrolment.course_id == "demo")) == "student"


def test_lti_ags_reply_target_needs_a_registered_platform_and_is_stored_beside_the_callback(client, db, secret):
    lineitem = ALLOWED + "api/lti/courses/1/line_items/7"
    reply = {"callback": ALLOWED + "hook", "lti_ags": {"issuer": ISSUER, "lineitem": lineitem}}
    assert_error(send(client, secret, payload(reply_to=reply)), 422, "unknown_platform", "reply_to.lti_ags.issuer")
    with db.unit_of_work() as session:
        session.add(LtiPlatform(issuer=ISSUER, client_id="tool-1", deployment_ids=["d1"], auth_url=ISSUER + "/auth",
                                token_url=ISSUER + "/token", jwks_url=ISSUER + "/jwks"))
    response = send(client, secret, payload(reply_to=reply))
    assert response.status_code == 202, response.text
    with db.reading() as session:
        targets = session.scalars(select(ReplyTarget).where(
            ReplyTarget.submission_id == response.get_json()["submission_id"]).order_by(ReplyTarget.kind)).all()
        assert [(t.kind, t.url, t.subject) for t in targets] == [
            ("callback", ALLOWED + "hook", "platform-user-1"), ("lti_ags", lineitem, "platform-user-1")]
        assert targets[1].platform.issuer == ISSUER and targets[1].source_id is None


def test_line_item_off_the_allow_list_is_refused_so_no_platform_token_goes_elsewhere(client, db, secret):
    with db.unit_of_work() as session:
        session.add(LtiPlatform(issuer=ISSUER, client_id="tool-1", deployment_ids=["d1"], auth_url=ISSUER + "/auth",
                                token_url=ISSUER + "/token", jwks_url=ISSUER + "/jwks"))
    reply = {"lti_ags": {"issuer": ISSUER, "lineitem": "https://attacker.example/collect"}}
    assert_error(send(client, secret, payload(reply_to=reply)), 422, "lineitem_not_allowed",
                 "reply_to.lti_ags.lineitem")
    assert count(db, Submission) == 0


def test_webhook_without_reply_to_is_taken_with_no_reply_target(client, db, secret):
    response = send(client, secret, payload(reply_to=None))
    assert response.status_code == 202, response.text
    assert count(db, ReplyTarget) == 0


def test_status_url_answers_an_instructor_of_the_course(client, db, demo, secret):
    body = send(client, secret, payload()).get_json()
    token = make_token(db, demo["instructor"].email)
    status = client.get(body["status_url"].removeprefix("http://localhost"),
                        headers={"Authorization": f"Bearer {token}"})
    assert status.status_code == 200 and status.get_json()["id"] == body["submission_id"]
    assert status.get_json()["status"] == "queued"


def test_status_url_uses_the_configured_public_base_url(db, demo, secret, service_config):
    client = create_app(service_config.replace(base_url="https://grader.example.edu/"), db).test_client()
    body = send(client, secret, payload()).get_json()
    assert body["status_url"] == f"https://grader.example.edu/api/v1/submissions/{body['submission_id']}"


def test_same_platform_user_maps_to_one_local_account(client, db, secret):
    first = send(client, secret, payload()).get_json()
    second = send(client, secret, payload(user={"id": "platform-user-1", "email": "changed@example.edu"})).get_json()
    assert first["submission_id"] != second["submission_id"]
    with db.reading() as session:
        users = {session.get(Submission, b["submission_id"]).user_id for b in (first, second)}
        assert len(users) == 1
        assert session.scalar(select(func.count()).select_from(ExternalIdentity)) == 1


def test_email_of_an_existing_account_is_not_taken_over(client, db, demo, secret):
    victim = demo["instructor"].email
    body = send(client, secret, payload(user={"id": "mallory", "email": victim})).get_json()
    with db.reading() as session:
        user = session.get(Submission, body["submission_id"]).user
        assert user.email != victim and user.email.endswith("@lms.webhook.invalid")
        assert user.role == "student"


def test_user_without_email_gets_a_placeholder_address(client, db, secret):
    body = send(client, secret, payload(user={"id": 4242})).get_json()
    with db.reading() as session:
        user = session.get(Submission, body["submission_id"]).user
        assert user.email.endswith("@lms.webhook.invalid") and "4242" in user.display_name


# ----------------------------------------------------------------------------- refused: 401
def _wrong_secret(secret: str, body: bytes) -> dict:
    return signed(sources.new_secret(), body)


def _without(name: str):  # noqa: ANN202
    def change(secret: str, body: bytes) -> dict:
        sent = signed(secret, body)
        del sent[name]
        return sent
    return change


def _signature(value: str):  # noqa: ANN202
    def change(secret: str, body: bytes) -> dict:
        return {**signed(secret, body), "webhook-signature": value}
    return change


def _at(delta: dt.timedelta):  # noqa: ANN202
    def change(secret: str, body: bytes) -> dict:
        return signed(secret, body, at=dt.datetime.now(dt.timezone.utc) + delta)
    return change


@pytest.mark.parametrize("make_headers, code", [
    (_wrong_secret, "bad_signature"),
    (_without("webhook-id"), "missing_headers"),
    (_without("webhook-timestamp"), "missing_headers"),
    (_without("webhook-signature"), "missing_headers"),
    (lambda secret, body: {"Content-Type": "application/json"}, "missing_headers"),
    (_signature("garbage"), "malformed_signature"),
    (_signature("v1,@@@"), "malformed_signature"),
    (_signature("v1,abc,def"), "malformed_signature"),
    (_signature("v1,AAAA"), "bad_signature"),
    (_at(-dt.timedelta(minutes=6)), "stale_timestamp"),
    (_at(dt.timedelta(minutes=30)), "stale_timestamp"),
], ids=["wrong-secret", "no-id", "no-timestamp", "no-signature", "no-headers", "garbage", "v1-at-at-at",
        "extra-comma", "short-hmac", "expired", "future"])
def test_unverifiable_webhook_is_refused_with_401_json_and_stores_nothing(client, db, secret, make_headers, code):
    body = json.dumps(payload()).encode()
    response = client.post("/api/v1/webhooks/lms", data=body, headers=make_headers(secret, body))
    assert_error(response, 401, code)
    assert "WWW-Authenticate" not in response.headers  # no Bearer token would help
    assert count(db, Submission) == 0 and count(db, InboundMessage) == 0


@pytest.mark.parametrize("name", ["nope", "LMS", "a" * 65, "%00", "caf%C3%A9"])
def test_unknown_source_is_refused_with_401_like_a_bad_signature(client, db, secret, name):
    body = json.dumps(payload()).encode()
    response = client.post(f"/api/v1/webhooks/{name}", data=body, headers=signed(secret, body))
    assert_error(response, 401, "unknown_source", "source")
    assert count(db, Submission) == 0


def test_refusal_is_checked_before_the_body_is_parsed(client, db, secret):
    body = b"{not json"
    response = client.post("/api/v1/webhooks/lms", data=body, headers=signed(sources.new_secret(), body))
    assert_error(response, 401, "bad_signature")


def test_body_that_is_not_utf8_is_refused_not_crashed(client, secret):
    response = client.post("/api/v1/webhooks/lms", data=b"\xff\xfe",
                           headers={**signed(secret, b"x"), "Content-Type": "application/json"})
    assert_error(response, 401, "bad_signature")


def test_webhook_answers_only_post(client, secret):
    response = client.get("/api/v1/webhooks/lms")
    assert response.status_code == 405 and response.get_json()["error"]["code"] == "method_not_allowed"


# ----------------------------------------------------------------------------- rotation
def test_after_rotation_old_and_new_secret_verify_until_the_grace_ends(client, db, secret):
    with db.unit_of_work() as session:
        new = sources.rotate_secret(session, "lms", dt.timedelta(hours=1))
    assert new != secret and new.startswith("whsec_")
    assert send(client, secret, payload()).status_code == 202
    assert send(client, new, payload()).status_code == 202
    with db.unit_of_work() as session:  # a rotation whose grace is over: as if made two hours ago
        newest = sources.rotate_secret(session, "lms", dt.timedelta(hours=1),
                                       now=dt.datetime.now(dt.timezone.utc) - dt.timedelta(hours=2))
    assert_error(send(client, secret, payload()), 401, "bad_signature")
    assert_error(send(client, new, payload()), 401, "bad_signature")
    assert send(client, newest, payload()).status_code == 202


def test_rotation_with_no_grace_stops_the_old_secret_at_once(client, db, secret):
    with db.unit_of_work() as session:
        new = sources.rotate_secret(session, "lms", dt.timedelta(0))
        source = sources.source_by_name(session, "lms")
        assert sources.signing_secret(session, source) == new
        assert [row.secret for row in sources.valid_secrets(session, source)] == [new]
    assert_error(send(client, secret, payload()), 401, "bad_signature")
    assert send(client, new, payload()).status_code == 202


# ----------------------------------------------------------------------------- idempotency
def test_redelivered_webhook_is_stored_and_graded_once(client, db, secret):
    first = send(client, secret, payload(), message_id="same-id")
    again = send(client, secret, payload(), message_id="same-id")  # a fresh timestamp and signature
    assert first.status_code == again.status_code == 202
    assert first.get_json() == again.get_json()
    assert count(db, Submission) == 1 and count(db, GradingRun) == 1 and count(db, InboundMessage) == 1
    assert count(db, ReplyTarget) == 1


def test_same_message_id_from_another_source_is_another_message(client, db, secret):
    with db.unit_of_work() as session:
        other = sources.add_source(session, "other", [ALLOWED])[1]
    first = send(client, secret, payload(), message_id="shared").get_json()
    second = send(client, other, payload(), message_id="shared", source="other").get_json()
    assert first["submission_id"] != second["submission_id"]


def test_redelivery_after_a_restart_returns_the_same_submission(client, db, secret, service_config):
    first = send(client, secret, payload(), message_id="before-restart").get_json()
    restarted_db = Database(db.url)  # a new process would open the database afresh
    try:
        restarted = create_app(service_config, restarted_db).test_client()
        again = send(restarted, secret, payload(), message_id="before-restart")
    finally:
        restarted_db.dispose()
    assert again.status_code == 202 and again.get_json() == first
    assert count(db, Submission) == 1 and count(db, GradingRun) == 1


def test_rejected_payload_stores_nothing_so_a_corrected_redelivery_is_taken(client, db, secret):
    assert_error(send(client, secret, payload(assignment="nope"), message_id="fix-me"), 422, "unknown_assignment")
    assert count(db, InboundMessage) == 0
    assert send(client, secret, payload(), message_id="fix-me").status_code == 202


# ----------------------------------------------------------------------------- payload problems
def test_unknown_course_is_422_naming_course(client, db, secret):
    assert_error(send(client, secret, payload(course="no-such-course")), 422, "unknown_course", "course")
    assert count(db, Submission) == 0 and count(db, User) == 2  # the demo accounts only


def test_unknown_assignment_is_422_naming_assignment(client, secret):
    assert_error(send(client, secret, payload(assignment="no-such-exercise")), 422, "unknown_assignment",
                 "assignment")


def test_assignment_outside_the_course_is_422(client, db, secret):
    with db.unit_of_work() as session:
        accounts.ensure_course(session, "empty-course")
    assert_error(send(client, secret, payload(course="empty-course")), 422, "unknown_assignment", "assignment")


def test_no_gradable_file_is_422_naming_files(client, secret):
    files = [{"name": "notes.txt", "content": "hello"}, {"name": "data.csv", "content": "1,2"}]
    assert_error(send(client, secret, payload(files=files)), 422, "no_gradable_file", "files")


def test_first_gradable_file_is_graded_and_its_problems_name_it(client, db, secret):
    files = [{"name": "README.md", "content": "# hi"}, {"name": "fix.py", "content": "   \n"}]
    assert_error(send(client, secret, payload(files=files)), 422, "empty_file", "files.1.content")
    files[1]["content"] = "def f(:\n"
    response = send(client, secret, payload(files=files))
    assert response.status_code == 202  # a syntax error is graded (as a failure), not refused
    with db.reading() as session:
        assert session.get(Submission, response.get_json()["submission_id"]).filename == "fix.py"
    notebook = [{"name": "broken.ipynb", "content": "{not a notebook"}]
    assert_error(send(client, secret, payload(files=notebook)), 422, "bad_notebook", "files.0.content")


def test_too_large_file_is_413_naming_its_content(client, secret, service_config):
    big = "#" * (service_config.max_upload_bytes + 10)  # over the file cap, under the body cap
    assert_error(send(client, secret, payload(files=[{"name": "fix.py", "content": big}])), 413, "too_large",
                 "files.0.content")


def test_body_over_the_cap_is_413_json(client, secret, service_config):
    big = b" " * (service_config.max_upload_bytes + 65 * 1024)
    response = client.post("/api/v1/webhooks/lms", data=big, headers=signed(secret, big))
    assert response.status_code == 413 and response.get_json()["error"]["code"] == "too_large"


@pytest.mark.parametrize("callback", [
    "http://127.0.0.1:8080/admin", "http://169.254.169.254/latest/meta-data/", "https://lms.example.edu/other/",
    "https://lms.example.edu.evil.com/grades/hook", "https://user@lms.example.edu/grades/hook",
    "file:///etc/passwd", "not a url"])
def test_callback_outside_the_allow_list_is_refused_as_ssrf(client, db, secret, callback):
    assert_error(send(client, secret, payload(reply_to={"callback": callback})), 422, "callback_not_allowed",
                 "reply_to.callback")
    assert count(db, Submission) == 0 and count(db, ReplyTarget) == 0


def test_source_without_an_allow_list_cannot_ask_for_callbacks(client, db, demo):
    with db.unit_of_work() as session:
        bare = sources.add_source(session, "bare")[1]
    response = send(client, bare, payload(), source="bare")
    assert_error(response, 422, "callback_not_allowed", "reply_to.callback")
    assert send(client, bare, payload(reply_to=None), source="bare").status_code == 202


@pytest.mark.parametrize("changes, field", [
    ({"files": [{"name": "fix.py", "content": 12}]}, "files.0.content"),
    ({"files": []}, "files"),
    ({"user": {"name": "no id"}}, "user.id"),
    ({"attempt": 0}, "attempt"),
    ({"submitted_at": "last tuesday"}, "submitted_at"),
    ({"course": ["demo"]}, "course"),
    ({"reply_to": {"lti_ags": {"issuer": ISSUER, "lineitem": "ftp://x"}}}, "reply_to.lti_ags.lineitem"),
])
def test_bad_types_are_422_naming_the_field(client, secret, changes, field):
    assert_error(send(client, secret, payload(**changes)), 422, "invalid", field)


@pytest.mark.parametrize("body", [b"{not json", b"", b"[1, 2]", b"null", b'"text"', b"[" * 100000])
def test_signed_body_that_is_no_payload_is_a_clear_client_error(client, secret, body):
    response = send(client, secret, body)
    assert response.status_code in (400, 422), response.text
    assert response.get_json()["error"]["code"] in ("bad_json", "invalid")


@pytest.mark.parametrize("changes, code, field", [
    ({"files": [{"name": "fix.py", "content": "x = '\ud800'\n"}]}, "not_utf8", "files.0.content"),
    ({"files": [{"name": "fix.py", "content": "x = 1\x00\n"}]}, "binary_file", "files.0.content"),
    ({"course": "de\x00mo"}, "unknown_course", "course"),
    ({"user": {"id": "u", "name": "\ud800"}}, "invalid", "user.name"),
    ({"assignment": "no\x00ne"}, "unknown_assignment", "assignment"),
    ({"reply_to": {"lti_ags": {"issuer": "https://x\x00", "client_id": "a\x00", "lineitem": ALLOWED + "l"}}},
     "unknown_platform", "reply_to.lti_ags.issuer"),
])
def test_text_no_database_could_store_is_a_422_not_a_crash(client, db, secret, changes, code, field):
    assert_error(send(client, secret, payload(**changes)), 422, code, field)
    assert count(db, Submission) == 0


def test_names_with_unprintable_characters_are_cleaned_not_refused(client, db, secret):
    user = {"id": "u-77", "name": "Ada\x00 Lovelace\x07", "email": "a\x00@x.edu"}
    response = send(client, secret, payload(user=user, files=[{"name": "fi\x00x.py", "content": "import torch\n"}]))
    assert response.status_code == 202, response.text
    with db.reading() as session:
        submission = session.get(Submission, response.get_json()["submission_id"])
        assert submission.filename == "fix.py" and submission.user.display_name == "Ada Lovelace"
        assert submission.user.email.endswith(".webhook.invalid")


def test_extra_fields_from_the_platform_are_ignored(client, secret):
    response = send(client, secret, payload(lms_specific={"x": 1}, user={"id": "u9", "roles": ["Learner"]}))
    assert response.status_code == 202, response.text


def test_instructor_submitting_through_a_webhook_is_a_student_of_the_course(client, db, demo, secret):
    add_user(db, "ta@example.edu", "instructor")
    body = send(client, secret, payload(user={"id": "ta", "email": "ta@example.edu"})).get_json()
    with db.reading() as session:
        assert session.get(Submission, body["submission_id"]).user.email != "ta@example.edu"
        assert session.get(Course, "demo") is not None


# ----------------------------------------------------------------------------- documented
def test_openapi_documents_the_webhook_headers_signature_and_payload(client):
    document = client.get("/api/v1/openapi.json").get_json()
    operation = document["paths"]["/api/v1/webhooks/{source}"]["post"]
    headers = {p["name"] for p in operation["parameters"] if p["in"] == "header"}
    assert headers == {"webhook-id", "webhook-timestamp", "webhook-signature"}
    assert "HMAC-SHA256" in operation["description"] and "bad_signature" in operation["description"]
    assert operation["requestBody"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/WebhookPayload"}
    assert set(operation["responses"]) >= {"202", "401", "422"}
    schemas = document["components"]["schemas"]
    assert {"WebhookPayload", "WebhookAccepted", "WebhookFile", "WebhookUser", "ReplyTo"} <= set(schemas)
    assert set(schemas["WebhookPayload"]["required"]) == {"course", "assignment", "user", "files"}
