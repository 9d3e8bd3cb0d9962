"""The whole LTI path on loopback: OIDC login and launch from a fake platform (its JWKS over
HTTP), a submission through the web form, grading in the sandbox by a real worker, and the
score POSTed by the outbox to the platform's line item with a token the platform verified."""

from __future__ import annotations

import time

import pytest
from fake_ags import running
from fake_platform import FakePlatform
from service_fixtures import csrf_token

from grader.lms.lti import registry, security
from grader.lms.outbox import Outbox

SLUG = "none-grad-after-rebinding"


@pytest.fixture(autouse=True)
def refetch_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(security, "MIN_REFETCH_SECONDS", 0.0)


def send_until_delivered(outbox: Outbox, scores, count: int, timeout: float = 30.0) -> None:  # noqa: ANN001
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and len(scores()) < count:
        outbox.run_once()
        time.sleep(0.05)
    assert len(scores()) >= count, "the score did not reach the platform"


def test_launch_submit_grade_arrives_at_the_platform_line_item(live_service, httpserver, bank):  # noqa: ANN001
    from grader.web import create_app  # the live service's app: same database, a client of its own

    fake = FakePlatform(httpserver)
    config, db = live_service.config, live_service.db
    with running(config.instance_path, client_id=fake.client_id) as ags:
        with db.unit_of_work() as session:
            registry.add_platform(session, fake.issuer, fake.client_id, [fake.deployment_id], fake.auth_url,
                                  ags.token_url, fake.jwks_url)
        client = create_app(config, db, bank).test_client()
        lineitem = ags.lineitem_url("7")
        launch = fake.launch(client, sub="stu-42", custom={"exercise": SLUG}, lineitem=lineitem)
        assert launch.response.status_code == 302, launch.response.text

        page = client.get(f"/exercises/{SLUG}")
        solution = (bank.solutions_dir / f"{SLUG}.py").read_text(encoding="utf-8")
        answer = client.post(f"/exercises/{SLUG}/submit",
                             data={"source": solution, "csrf_token": csrf_token(page.text)})
        assert answer.status_code == 303, answer.text
        live_service.drain()

        send_until_delivered(Outbox(config, db), ags.kept_scores, 1)
        score = ags.kept_scores()[0].score
        points = bank.exercise(SLUG).points
        assert score["userId"] == "stu-42"
        assert (score["scoreGiven"], score["scoreMaximum"]) == (points, points)
        assert (score["activityProgress"], score["gradingProgress"]) == ("Completed", "FullyGraded")
        assert ags.token_requests and all(r.refused is None for r in ags.token_requests)
