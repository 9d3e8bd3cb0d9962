"""The delivery log: ``grader deliveries`` and ``/instructor/deliveries`` (filter, replay,
404 for students and for other courses' deliveries)."""

from __future__ import annotations

import datetime as dt

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from grader.cli import deliveries as _deliveries  # noqa: F401 - adds the command
from grader.cli.base import main as cli
from grader.lms import outbox
from grader.store import accounts
from grader.store.models_lms import Delivery
from service_fixtures import add_user, csrf_token, login
from test_outbox_support import make_world, receiver_at


@pytest.fixture
def logged(db, demo, httpserver, service_config):  # noqa: ANN001, ANN201
    """Three deliveries of the demo course: one failed (HTTP 400), one delivered, one pending."""
    world = make_world(db, [httpserver.url_for("/hooks")], course_exists=True)
    _receiver, url = receiver_at(httpserver, world.secret, [(400, {}), (200, {})])
    failed = world.graded(url)
    outbox.Outbox(service_config, db).run_once()
    delivered = world.graded(url)
    outbox.Outbox(service_config, db).run_once()
    pending = world.graded(url)
    with db.unit_of_work() as session:
        session.get(Delivery, pending).next_attempt_at += dt.timedelta(hours=1)
    return {"failed": failed, "delivered": delivered, "pending": pending, "url": url}


def run_cli(service_config, *args: str):  # noqa: ANN001, ANN201
    env = {"GRADER_DATABASE_URL": service_config.database_url}
    return CliRunner().invoke(cli, ["deliveries", *args, "--instance", str(service_config.instance_path)], env=env)


def test_cli_lists_deliveries_and_filters_the_failed_ones(logged, service_config) -> None:  # noqa: ANN001
    result = run_cli(service_config)
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].split()[:3] == ["ID", "STATUS", "ATTEMPTS"]
    assert {line.split()[1] for line in lines[1:]} == {"failed", "delivered", "pending"}
    failed_line = next(line for line in lines if line.split()[1] == "failed")
    assert "HTTP 400" in failed_line and logged["url"] in failed_line
    result = run_cli(service_config, "--failed", "--course", "demo")
    assert result.exit_code == 0
    assert [line.split()[0] for line in result.output.splitlines()[1:]] == [str(logged["failed"])]


def test_cli_refuses_an_unknown_course(logged, service_config) -> None:  # noqa: ANN001
    result = run_cli(service_config, "--course", "nope")
    assert result.exit_code != 0 and "nope" in result.output


def test_cli_replay_puts_a_failed_delivery_back(logged, service_config, db) -> None:  # noqa: ANN001
    result = run_cli(service_config, "replay", str(logged["failed"]))
    assert result.exit_code == 0, result.output
    assert "pending again" in result.output
    with db.reading() as session:
        assert session.get(Delivery, logged["failed"]).status == "pending"
    again = run_cli(service_config, "replay", str(logged["failed"]))
    assert again.exit_code == 1 and "pending already" in again.output
    missing = run_cli(service_config, "replay", "999999")
    assert missing.exit_code == 1 and "no delivery 999999" in missing.output


def test_help_shows_examples(service_config) -> None:  # noqa: ANN001
    result = CliRunner().invoke(cli, ["deliveries", "--help"])
    assert result.exit_code == 0 and "grader deliveries replay 17" in result.output and "--failed" in result.output


def test_page_lists_failed_first_and_filters(client, demo, logged) -> None:  # noqa: ANN001
    login(client, demo["instructor"])
    page = client.get("/instructor/deliveries")
    assert page.status_code == 200
    html = page.text
    assert html.index(f'id="delivery-{logged["failed"]}"') < html.index(f'id="delivery-{logged["delivered"]}"')
    assert "HTTP 400" in html and "Grade deliveries" in html
    only = client.get("/instructor/deliveries?status=failed").text
    assert f'id="delivery-{logged["failed"]}"' in only and f'id="delivery-{logged["delivered"]}"' not in only
    assert 'href="/instructor/deliveries?course=demo"' in client.get("/instructor/gradebook").text


def test_page_replay_button_queues_the_delivery_again(client, demo, logged, db) -> None:  # noqa: ANN001
    login(client, demo["instructor"])
    page = client.get("/instructor/deliveries?status=failed")
    response = client.post(f"/instructor/deliveries/{logged['failed']}/replay",
                           data={"csrf_token": csrf_token(page.text), "status": "failed"})
    assert response.status_code == 303
    with db.reading() as session:
        assert session.get(Delivery, logged["failed"]).status == "pending"
    followed = client.get(response.headers["Location"])
    assert "queued again" in followed.text


def test_page_replay_needs_the_csrf_token(client, demo, logged, db) -> None:  # noqa: ANN001
    login(client, demo["instructor"])
    response = client.post(f"/instructor/deliveries/{logged['failed']}/replay", data={})
    assert response.status_code == 400
    with db.reading() as session:
        assert session.get(Delivery, logged["failed"]).status == "failed"


def test_students_get_404(client, demo, logged) -> None:  # noqa: ANN001
    login(client, demo["student"])
    assert client.get("/instructor/deliveries").status_code == 404
    page = client.get("/exercises")
    response = client.post(f"/instructor/deliveries/{logged['failed']}/replay",
                           data={"csrf_token": csrf_token(page.text)})
    assert response.status_code == 404


def test_instructors_of_other_courses_do_not_see_or_replay_them(client, db, demo, logged) -> None:  # noqa: ANN001
    with db.unit_of_work() as session:
        accounts.ensure_course(session, "other", "Other course")
    other = add_user(db, "teacher@example.com", "instructor", course="other")
    login(client, other)
    page = client.get("/instructor/deliveries")
    assert page.status_code == 200 and f'id="delivery-{logged["failed"]}"' not in page.text
    assert client.get("/instructor/deliveries?course=demo").status_code == 404
    response = client.post(f"/instructor/deliveries/{logged['failed']}/replay",
                           data={"csrf_token": csrf_token(page.text)})
    assert response.status_code == 404
    with db.reading() as session:
        assert session.scalar(select(Delivery.status).where(Delivery.id == logged["failed"])) == "failed"
