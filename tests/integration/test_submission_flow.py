"""One submission from the web form to its stored grade, on both database back ends."""

from __future__ import annotations

import io

from service_fixtures import csrf_token, login

from grader.queue.worker import Worker
from grader.store.models import GradingRun, Submission

SLUG = "none-grad-after-rebinding"


def test_stub_submitted_through_the_form_is_graded_once_and_shown(client, demo, db, bank, sandbox,
                                                                   service_config):
    login(client, demo["student"])
    page = client.get(f"/exercises/{SLUG}")
    stub = (bank.exercise(SLUG).stub_path).read_bytes()
    response = client.post(f"/exercises/{SLUG}/submit", data={
        "csrf_token": csrf_token(page.text), "file": (io.BytesIO(stub), "stub.py")})
    assert response.status_code == 303
    pending = client.get(response.location)
    assert "Waiting to be graded" in pending.text

    worker = Worker(service_config, db, bank, sandbox)
    assert worker.run_once()
    assert not worker.run_once()

    graded = client.get(response.location)
    assert "follows_gradient_descent" in graded.text and "Smallest failing input" in graded.text
    with db.reading() as session:
        (submission,) = session.query(Submission).all()
        (run,) = session.query(GradingRun).all()
        assert submission.content == stub and submission.format == "py"
        assert run.status == "graded" and run.attempts == 1 and run.score < run.max_score
        assert run.exercise_hash and run.engine_version and len(run.checks) == len(run.result["checks"])
