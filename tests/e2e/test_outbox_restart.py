"""A grade survives ``kill -9`` of ``grader serve`` between two attempts of its delivery:
the next start sends it, with the same webhook-id, to a receiver that verifies it."""

from __future__ import annotations

import base64
import hashlib
import os
import time
from pathlib import Path

import pytest
from sqlalchemy import select
from standardwebhooks.webhooks import Webhook
from werkzeug import Request, Response

from grader.lms import outbox
from grader.store.db import Database
from grader.store.models import Exercise, GradingRun, Submission, User, utcnow
from grader.store.models_lms import Delivery, ReplyTarget, WebhookSecret, WebhookSource
from test_serve import Served, group_members, served_instance  # noqa: F401 - the fixture

SLUG = "none-grad-after-rebinding"


def graded_with_callback(database_url: str, url: str, allow: str) -> tuple[int, str]:
    """A graded run of the demo student with a callback target, stored as ``claims.finish_run`` would."""
    secret = "whsec_" + base64.b64encode(os.urandom(24)).decode()
    database = Database(database_url)
    try:
        with database.unit_of_work() as session:
            source = WebhookSource(name="lms", callback_allow=[allow])
            session.add(source)
            session.flush()
            session.add(WebhookSecret(source_id=source.id, secret=secret))
            user = session.scalar(select(User).where(User.role == "student"))
            exercise = session.scalar(select(Exercise).where(Exercise.slug == SLUG))
            body = b"def f():\n    return 1\n"
            submission = Submission(user_id=user.id, course_id="demo", exercise_id=exercise.id, filename="a.py",
                                    format="py", content=body, size=len(body), sha256=hashlib.sha256(body).hexdigest(),
                                    origin="webhook")
            session.add(submission)
            session.flush()
            session.add(ReplyTarget(submission_id=submission.id, kind="callback", url=url, source_id=source.id,
                                    subject="u-1"))
            run = GradingRun(submission_id=submission.id, status="graded", attempts=1, score=4.0, max_score=10.0,
                             finished_at=utcnow(), result={"score": 4.0, "max_score": 10.0, "checks": []})
            session.add(run)
            session.flush()
            (delivery,) = outbox.enqueue_for(session, run.id, run.submission_id)
            return delivery.id, secret
    finally:
        database.dispose()


def delivery_row(database_url: str, delivery_id: int) -> Delivery:
    database = Database(database_url)
    try:
        with database.reading() as session:
            return session.get(Delivery, delivery_id)
    finally:
        database.dispose()


def command_line(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:  # it exited meanwhile
        return b""


def wait_for(what, timeout: float, served: Served):  # noqa: ANN001, ANN201
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = what()
        if found:
            return found
        time.sleep(0.1)
    raise AssertionError(f"timed out; server output:\n{served.output()}")


@pytest.mark.slow
def test_a_delivery_survives_kill_9_between_attempts(served_instance, httpserver) -> None:  # noqa: ANN001
    instance, database_url = served_instance
    seen: list[tuple[str, bool]] = []
    answers = [Response("busy", status=500, headers={"Retry-After": "3"}), Response("ok", status=200)]
    secret_box: dict[str, str] = {}

    def handle(request: Request) -> Response:
        try:
            Webhook(secret_box["secret"]).verify(request.get_data(), dict(request.headers))
            verified = True
        except Exception:  # noqa: BLE001
            verified = False
        seen.append((request.headers.get("webhook-id"), verified))
        return answers.pop(0) if len(answers) > 1 else answers[0]

    httpserver.expect_request("/hooks/grades", method="POST").respond_with_handler(handle)
    served = Served(instance, database_url, workers=1).start()
    try:
        delivery_id, secret_box["secret"] = graded_with_callback(
            served.database_url, httpserver.url_for("/hooks/grades"), httpserver.url_for("/hooks"))
        first = wait_for(lambda: (row := delivery_row(served.database_url, delivery_id)).attempts >= 1 and row,
                         30, served)
    finally:
        served.kill_everything()
    assert (first.status, first.last_status, len(seen)) == ("pending", 500, 1), "killed after the second attempt"
    again = Served(instance, database_url, workers=1, port=served.port).start()
    try:
        done = wait_for(lambda: (row := delivery_row(again.database_url, delivery_id)).status == "delivered" and row,
                        40, again)
        assert any(b"_outbox" in command_line(pid) for pid in group_members(again.process.pid)), \
            "no outbox process in the group"
    finally:
        assert again.stop() == 0, again.output()
    wait_for(lambda: not group_members(again.process.pid), 20, again)
    assert done.attempts == 2 and done.last_status == 200
    assert seen == [(done.message_id, True), (done.message_id, True)]
