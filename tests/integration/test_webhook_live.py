"""Webhooks against a real server on loopback (waitress, real sockets): deliveries of one
``webhook-id`` racing each other store one submission, and a webhook submission is graded by
the worker and readable at its ``status_url``."""

from __future__ import annotations

import datetime as dt
import json
import math
import threading
import time
from typing import Iterator

import pytest
import requests
from service_fixtures import make_token
from sqlalchemy import func, select
from standardwebhooks.webhooks import Webhook

from grader.lms import sources
from grader.store import accounts
from grader.store.db import Database
from grader.store.models import GradingRun, Submission
from grader.store.models_lms import ExternalIdentity, InboundMessage

SLUG = "none-grad-after-rebinding"
RACERS = 8


def body_for(user_id: str = "racer", content: str | None = None) -> bytes:
    return json.dumps({"course": "demo", "assignment": SLUG, "user": {"id": user_id, "email": f"{user_id}@x.edu"},
                       "files": [{"name": "fix.py", "content": content or "import torch\n"}]}).encode()


def signed(secret: str, body: bytes, message_id: str) -> dict:
    at = dt.datetime.now(dt.timezone.utc)
    return {"webhook-id": message_id, "webhook-timestamp": str(math.floor(at.timestamp())),
            "webhook-signature": Webhook(secret).sign(message_id, at, body.decode()),
            "Content-Type": "application/json"}


def count(db: Database, model) -> int:  # noqa: ANN001
    with db.reading() as session:
        return session.scalar(select(func.count()).select_from(model))


@pytest.fixture
def server(app) -> Iterator[str]:  # noqa: ANN001
    """The app behind waitress on a free loopback port (no grading worker: nothing is graded)."""
    from waitress import create_server

    server = create_server(app, host="127.0.0.1", port=0, threads=RACERS)
    thread = threading.Thread(target=server.run, name="waitress", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.effective_port}"
    finally:
        server.close()
        thread.join(timeout=10)


def add_source(db: Database) -> str:
    with db.unit_of_work() as session:
        return sources.add_source(session, "lms")[1]


def race(url: str, requests_to_send: list[tuple[bytes, dict]]) -> list[requests.Response]:
    """Send all at once: every thread waits at a barrier, then posts."""
    barrier, answers, errors = threading.Barrier(len(requests_to_send)), {}, []

    def post(index: int, body: bytes, headers: dict) -> None:
        try:
            barrier.wait(timeout=10)
            answers[index] = requests.post(url, data=body, headers=headers, timeout=60)
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=post, args=(i, body, headers)) for i, (body, headers)
               in enumerate(requests_to_send)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=90)
    assert not errors, errors
    return [answers[i] for i in range(len(requests_to_send))]


def test_concurrent_deliveries_of_one_webhook_id_store_one_submission(server, db):
    secret = add_source(db)
    body = body_for()
    answers = race(f"{server}/api/v1/webhooks/lms", [(body, signed(secret, body, "racing-id"))] * RACERS)
    assert [a.status_code for a in answers] == [202] * RACERS, [a.text for a in answers]
    assert len({a.json()["submission_id"] for a in answers}) == 1
    assert count(db, Submission) == 1 and count(db, GradingRun) == 1 and count(db, InboundMessage) == 1


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)  # SQLite serialises the writers
def test_a_first_delivery_whose_account_a_concurrent_one_created_meanwhile_is_retried(server, db, monkeypatch):
    """The race the test below hits only sometimes, made certain: a second delivery for the
    same new user commits its account right after the first one found the email free."""
    secret, body = add_source(db), body_for("latecomer")
    free_email, competed = accounts.unused_email, []

    def email_then_competitor(session, email):  # noqa: ANN001, ANN202
        found = free_email(session, email)
        if not competed:  # the first delivery only; the competitor looks up its email unhindered
            competed.append(None)
            competed[0] = requests.post(f"{server}/api/v1/webhooks/lms", data=body,
                                        headers=signed(secret, body, "competitor"), timeout=60)
        return found

    monkeypatch.setattr(accounts, "unused_email", email_then_competitor)
    first = requests.post(f"{server}/api/v1/webhooks/lms", data=body, headers=signed(secret, body, "first"),
                          timeout=60)
    assert competed[0].status_code == 202 and first.status_code == 202, (competed[0].text, first.text)
    assert first.json()["submission_id"] != competed[0].json()["submission_id"]
    with db.reading() as session:
        assert session.scalar(select(func.count()).select_from(ExternalIdentity)) == 1
        assert len(set(session.scalars(select(Submission.user_id)))) == 1


def test_concurrent_first_submissions_of_one_platform_user_make_one_account(server, db):
    secret = add_source(db)
    body = body_for("newcomer")
    answers = race(f"{server}/api/v1/webhooks/lms",
                   [(body, signed(secret, body, f"message-{i}")) for i in range(RACERS)])
    assert [a.status_code for a in answers] == [202] * RACERS, [a.text for a in answers]
    assert len({a.json()["submission_id"] for a in answers}) == RACERS
    with db.reading() as session:
        assert session.scalar(select(func.count()).select_from(ExternalIdentity)) == 1
        assert len(set(session.scalars(select(Submission.user_id)))) == 1


@pytest.mark.slow
def test_webhook_submission_is_graded_and_its_status_url_shows_the_grade(live_service, bank):  # noqa: ANN001
    secret = add_source(live_service.db)
    body = body_for("graded-student", (bank.solutions_dir / f"{SLUG}.py").read_text())
    answer = requests.post(f"{live_service.url}/api/v1/webhooks/lms", data=body,
                           headers=signed(secret, body, "graded-1"), timeout=30)
    assert answer.status_code == 202, answer.text
    status_url = answer.json()["status_url"]
    assert status_url.startswith(live_service.url)
    token = make_token(live_service.db, live_service.accounts["instructor"].email)
    deadline, shown = time.monotonic() + 120, None
    while time.monotonic() < deadline:
        shown = requests.get(status_url, headers={"Authorization": f"Bearer {token}"}, timeout=30).json()
        if shown["status"] in ("graded", "failed"):
            break
        time.sleep(0.2)
    assert shown["status"] == "graded", shown
    assert shown["max_score"] > 0 and shown["score"] == shown["max_score"] and shown["checks"]
    with live_service.db.reading() as session:
        assert session.get(Submission, shown["id"]).origin == "webhook"
