"""What the outbox tests share (no tests here): a graded run with a callback reply target,
and a receiver on loopback that verifies every request's Standard Webhooks signature."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import os
import threading
from dataclasses import dataclass, field

from sqlalchemy import select
from standardwebhooks.webhooks import Webhook
from werkzeug import Request, Response

from grader.queue import claims
from grader.store.db import Database
from grader.store.models import Course, CourseExercise, Exercise, GradingRun, Submission, User, utcnow
from grader.store.models_lms import Delivery, ReplyTarget, TargetKind, WebhookSecret, WebhookSource

SLUG = "none-grad-after-rebinding"
SOURCE = b"def f():\n    return 1\n"
SUBJECT = "lms-user-42"


def new_secret() -> str:
    return "whsec_" + base64.b64encode(os.urandom(24)).decode()


def result_of(score: float) -> dict:
    return {"file": "a.py", "exercise": SLUG, "score": score, "max_score": 10.0, "notes": [], "seconds": 0.1,
            "checks": [{"name": "grad_is_none", "verdict": "passed", "points": score, "max_points": 10.0,
                        "message": "", "visible": True}]}


@dataclass
class World:
    db: Database
    secret: str
    source_id: int
    course_id: str = "demo"

    def submit(self, url: str, email: str = "student@example.com") -> int:
        """A stored submission with a callback reply target to ``url``; its id."""
        with self.db.unit_of_work() as session:
            exercise = session.scalar(select(Exercise).where(Exercise.slug == SLUG))
            user = session.scalar(select(User).where(User.email == email))
            if user is None:
                user = User(email=email, display_name="Student")
                session.add(user)
                session.flush()
            row = Submission(user_id=user.id, course_id=self.course_id, exercise_id=exercise.id, filename="a.py",
                             format="py", content=SOURCE, size=len(SOURCE), sha256=hashlib.sha256(SOURCE).hexdigest(),
                             origin="webhook")
            session.add(row)
            session.flush()
            session.add(ReplyTarget(submission_id=row.id, kind=TargetKind.CALLBACK.value, url=url,
                                    source_id=self.source_id, subject=SUBJECT))
            return row.id

    def grade(self, submission_id: int, score: float = 7.5) -> int:
        """Queue, claim and finish a run of the submission, as a worker does; the run id."""
        with self.db.unit_of_work() as session:
            run = GradingRun(submission_id=submission_id)
            session.add(run)
            session.flush()
            run_id = run.id
        with self.db.unit_of_work() as session:
            claim = claims.claim_next(session, "host:1:test", 30.0, 3)
            assert claim is not None and claim.run_id == run_id
        with self.db.unit_of_work() as session:
            assert claims.finish_run(session, claim, result_of(score), "0" * 64, "test") is not None
        return run_id

    def graded(self, url: str, score: float = 7.5) -> int:
        """A graded submission whose grade goes to ``url``; the id of its delivery."""
        run_id = self.grade(self.submit(url), score)
        with self.db.reading() as session:
            return session.scalar(select(Delivery.id).where(Delivery.run_id == run_id))

    def delivery(self, delivery_id: int) -> Delivery:
        with self.db.reading() as session:
            return session.get(Delivery, delivery_id)

    def set_allow(self, prefixes: list[str]) -> None:
        with self.db.unit_of_work() as session:
            session.get(WebhookSource, self.source_id).callback_allow = prefixes


def make_world(db: Database, allow: list[str], course_exists: bool = False) -> World:
    secret = new_secret()
    with db.unit_of_work() as session:
        if not course_exists:
            session.add(Course(id="demo", title="Demo"))
        exercise = session.scalar(select(Exercise).where(Exercise.slug == SLUG))
        if exercise is None:
            exercise = Exercise(slug=SLUG, title="T", summary="", points=10.0, content_hash="0" * 64)
            session.add(exercise)
            session.flush()
            session.add(CourseExercise(course_id="demo", exercise_id=exercise.id))
        source = WebhookSource(name="lms", callback_allow=allow)
        session.add(source)
        session.flush()
        # An older secret, expired: the newest valid one must sign.
        session.add(WebhookSecret(source_id=source.id, secret=new_secret(),
                                  expires_at=utcnow() - dt.timedelta(hours=1)))
        session.add(WebhookSecret(source_id=source.id, secret=secret))
        session.flush()
        source_id = source.id
    return World(db, secret, source_id)


@dataclass
class Seen:
    headers: dict
    body: bytes
    verified: bool
    payload: dict | None


@dataclass
class Receiver:
    """Answers each request with the next of ``answers`` ((status, headers); the last one
    repeats) and keeps what it saw. ``hang`` holds an answer until released (or 20 s)."""

    secret: str
    answers: list = field(default_factory=lambda: [(200, {})])
    seen: list = field(default_factory=list)
    release: threading.Event = field(default_factory=threading.Event)

    def handle(self, request: Request) -> Response:
        body = request.get_data()
        headers = dict(request.headers)
        try:
            payload = Webhook(self.secret).verify(body, headers)
            verified = True
        except Exception:  # noqa: BLE001
            payload, verified = None, False
        self.seen.append(Seen(headers, body, verified, payload))
        status, extra = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        if status == "hang":
            self.release.wait(20)
            status = 200
        return Response("ok" if status < 300 else f"answer {status}", status=status, headers=extra)

    def ids(self) -> list[str]:
        return [s.headers.get("Webhook-Id") for s in self.seen]


def receiver_at(httpserver, secret: str, answers: list, path: str = "/hooks/grades") -> tuple[Receiver, str]:  # noqa: ANN001
    receiver = Receiver(secret, list(answers))
    httpserver.expect_request(path, method="POST").respond_with_handler(receiver.handle)
    return receiver, httpserver.url_for(path)
