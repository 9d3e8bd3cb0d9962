"""The grade.completed event, built from rows in memory (no database)."""

from __future__ import annotations

import datetime as dt
import json

from grader.lms.callback import event
from grader.store.models import CheckRow, Exercise, GradingRun, Submission
from grader.store.models_lms import Delivery, ReplyTarget


def test_the_event_names_the_platform_user_and_every_check() -> None:
    graded = dt.datetime(2026, 12, 1, 17, 0, 0, 123456, tzinfo=dt.timezone.utc)
    submission = Submission(id=12, course_id="demo", exercise=Exercise(slug="stale-optimizer"))
    run = GradingRun(submission=submission, score=7.5, max_score=10.0, finished_at=graded,
                     checks=[CheckRow(name="grad", verdict="passed", points=7.5, max_points=7.5),
                             CheckRow(name="step", verdict="failed", points=0.0, max_points=2.5)])
    body = event(Delivery(run=run, target=ReplyTarget(subject="canvas-99"), created_at=graded))
    assert body == {"type": "grade.completed", "timestamp": "2026-12-01T17:00:00.123Z", "data": {
        "submission_id": 12, "user": {"id": "canvas-99"}, "course": "demo", "assignment": "stale-optimizer",
        "score": 7.5, "max_score": 10.0, "graded_at": "2026-12-01T17:00:00.123Z",
        "checks": [{"name": "grad", "verdict": "passed", "points": 7.5, "max_points": 7.5},
                   {"name": "step", "verdict": "failed", "points": 0.0, "max_points": 2.5}]}}
    json.dumps(body)
