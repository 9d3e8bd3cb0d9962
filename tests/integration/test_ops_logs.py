"""JSON logs of real service work: a worker grading real submissions in the real sandbox,
and the outbox attempting a delivery. Every line is one JSON object carrying the ids."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from grader.config import Config
from grader.ops import logs
from grader.store.db import Database

ROOT = Path(__file__).resolve().parents[2]
SLUG = "none-grad-after-rebinding"


@pytest.fixture
def json_log(service_config: Config):  # noqa: ANN201
    """This process configured as a ``grader serve`` child in JSON mode; the loggers are put
    back afterwards (pytest's own capture hangs on the root logger)."""
    saved = {name: (lg.handlers[:], lg.level, lg.propagate)
             for name, lg in (("grader", logging.getLogger("grader")), ("", logging.getLogger()))}
    config = service_config.replace(log_format="json")
    handler = logs.configure(config, "worker")
    path = config.log_dir / "grader.log"
    try:
        yield lambda: [line for line in path.read_text(encoding="utf-8").splitlines()]
    finally:
        handler.close()
        for name, (handlers, level, propagate) in saved.items():
            logger = logging.getLogger(name or None)
            logger.handlers[:], logger.level, logger.propagate = handlers, level, propagate


def submit(db: Database, email: str, data: bytes) -> tuple[int, int]:
    from grader.store import accounts, submissions

    with db.unit_of_work() as session:
        accepted = submissions.submit(session, accounts.user_by_email(session, email), SLUG, "answer.py", data, 1 << 20)
        return accepted.submission.id, accepted.run.id


def test_every_line_of_a_graded_run_is_json_with_its_submission_id(json_log, service_config, db, demo, bank, sandbox):
    from grader.queue.worker import Worker

    hook = logging.getLogger("grader.test.hook")  # stands for any code grading calls, logging without extra=
    worker = Worker(service_config, db, bank, sandbox, on_graded=lambda run_id: hook.info("graded hook %s", run_id))
    good = submit(db, demo["student"].email, (ROOT / "solutions" / f"{SLUG}.py").read_bytes())
    bad = submit(db, demo["student"].email, b"def fit(*args):\n    raise SystemError('nope')\n")
    assert worker.run_once() and worker.run_once()
    lines = json_log()
    records = [json.loads(line) for line in lines]  # every line parses
    assert len(records) >= 6
    for submission_id, run_id in (good, bad):
        mine = [r for r in records if r.get("submission_id") == submission_id]
        assert {r["run_id"] for r in mine} == {run_id}
        assert any(r["message"].startswith("grading run") for r in mine)
        assert any(r["message"] == f"graded hook {run_id}" and r["logger"] == "grader.test.hook" for r in mine)
    assert all("submission_id" in r and r["role"] == "worker" for r in records), lines


def test_outbox_lines_carry_the_delivery_id(json_log, service_config, db, demo):
    from grader.lms.outbox import Outbox
    from grader.store.models import GradingRun
    from grader.store.models_lms import Delivery, ReplyTarget

    submission_id, run_id = submit(db, demo["student"].email, b"x = 1\n")
    with db.unit_of_work() as session:
        session.get(GradingRun, run_id).status = "graded"
        target = ReplyTarget(submission_id=submission_id, kind="callback", url="http://127.0.0.1:9/none")
        session.add(target)
        session.flush()
        delivery = Delivery(run_id=run_id, target_id=target.id, message_id="msg_log_test")
        session.add(delivery)
        session.flush()
        delivery_id = delivery.id
    outbox = Outbox(service_config.replace(delivery_timeout_seconds=2.0), db)
    assert outbox.run_once() == 1  # a callback without a webhook source: the attempt fails, and says so
    records = [json.loads(line) for line in json_log()]
    assert records and all(r.get("delivery_id") == delivery_id for r in records), records
