"""``grader lti`` as an administrator runs it: real processes on a real instance folder; a
registration made by the command works on an app that was already running."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
ISSUER = "https://canvas.example.edu"


def grader(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "grader", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=120)


def add_platform(instance: Path, *extra: str, issuer: str = ISSUER) -> subprocess.CompletedProcess:
    return grader("lti", "add-platform", "--instance", str(instance), "--issuer", issuer, "--client-id", "10000000001",
                  "--deployment-id", "dep-1", "--deployment-id", "dep-2", "--auth-url", f"{issuer}/api/lti/authorize",
                  "--token-url", f"{issuer}/login/oauth2/token", "--jwks-url", f"{issuer}/api/lti/security/jwks", *extra)


@pytest.mark.slow
def test_add_platform_then_list_shows_it_and_a_bad_url_is_a_clear_error(tmp_path: Path):
    instance = tmp_path / "instance"
    added = add_platform(instance)
    assert added.returncode == 0, added.stderr
    assert "client 10000000001 deployments dep-1, dep-2" in added.stdout
    listed = grader("lti", "list", "--instance", str(instance))
    assert listed.returncode == 0 and ISSUER in listed.stdout and "dep-1,dep-2" in listed.stdout
    bad = grader("lti", "add-platform", "--instance", str(instance), "--issuer", ISSUER, "--client-id", "x",
                 "--deployment-id", "d", "--auth-url", "javascript:alert(1)", "--token-url", "https://a/t",
                 "--jwks-url", "https://a/j")
    assert bad.returncode == 1 and "auth" in bad.stderr and "Traceback" not in bad.stderr
    unknown_course = add_platform(instance, "--course", "no-such-course", issuer="https://moodle.example.edu")
    assert unknown_course.returncode == 1 and "no-such-course" in unknown_course.stderr


def test_list_on_an_empty_instance_says_how_to_add_one(tmp_path: Path):
    listed = grader("lti", "list", "--instance", str(tmp_path / "instance"))
    assert listed.returncode == 0 and "add-platform" in listed.stdout


def test_rotate_key_prints_the_new_kid_and_both_are_published(tmp_path: Path):
    from grader.lms.lti.keys import ToolKeys

    instance = tmp_path / "instance"
    keys = ToolKeys(instance)
    old = keys.current().kid
    rotated = grader("lti", "rotate-key", "--instance", str(instance))
    assert rotated.returncode == 0, rotated.stderr
    new = keys.current().kid
    assert new != old and new in rotated.stdout and old in rotated.stdout and "7 days" in rotated.stdout
    assert [k["kid"] for k in keys.jwks()["keys"]] == [old, new]


def test_urls_come_from_base_url_option_or_setting(tmp_path: Path):
    instance = tmp_path / "instance"
    shown = grader("lti", "urls", "--instance", str(instance), "--base-url", "https://grader.example.edu/")
    assert shown.returncode == 0
    for url in ("https://grader.example.edu/lti/login", "https://grader.example.edu/lti/launch",
                "https://grader.example.edu/.well-known/jwks.json", "https://grader.example.edu/lti/config.json"):
        assert url in shown.stdout
    missing = grader("lti", "urls", "--instance", str(instance))
    assert missing.returncode == 1 and "--base-url" in missing.stderr
    instance.mkdir(parents=True, exist_ok=True)
    (instance / "config.toml").write_text('base_url = "https://from-config.example.edu"\n')
    configured = grader("lti", "urls", "--instance", str(instance))
    assert configured.returncode == 0 and "https://from-config.example.edu/lti/login" in configured.stdout


@pytest.mark.slow
def test_platform_added_by_the_cli_works_on_an_app_that_was_already_running(tmp_path: Path):
    from grader.config import Config
    from grader.web import create_app

    instance = tmp_path / "instance"
    assert grader("db", "upgrade", "--instance", str(instance)).returncode == 0
    app = create_app(Config(instance_path=instance, testing=True, ratelimit_enabled=False))
    client = app.test_client()
    query = {"iss": ISSUER, "login_hint": "u1", "client_id": "10000000001"}
    before = client.get("/lti/login", query_string=query)
    assert before.status_code == 403 and "not registered" in before.text
    assert add_platform(instance).returncode == 0
    after = client.get("/lti/login", query_string=query)
    assert after.status_code == 302 and after.headers["Location"].startswith(f"{ISSUER}/api/lti/authorize?")
    app.extensions["grader.db"].dispose()


def test_score_policy_is_set_per_course_and_a_wrong_course_is_a_clear_error(tmp_path: Path):
    from click.testing import CliRunner

    from grader.cli import lti as _lti  # noqa: F401 - adds the command
    from grader.cli.base import main
    from grader.config import Config
    from grader.store import accounts, migrate
    from grader.store.db import Database
    from grader.store.models import Course

    instance = tmp_path / "instance"
    config = Config.load(instance_path=str(instance)).ensure_instance()
    database = Database(config.sqlalchemy_url)
    migrate.upgrade(database.engine)
    with database.unit_of_work() as session:
        accounts.ensure_course(session, "ml101", "ML 101")
    runner = CliRunner()
    args = ["lti", "score-policy", "--instance", str(instance), "--course"]
    assert "the best score" in runner.invoke(main, args + ["ml101"]).output
    changed = runner.invoke(main, args + ["ml101", "latest"])
    assert changed.exit_code == 0 and "the latest score" in changed.output
    with database.reading() as session:
        assert session.get(Course, "ml101").score_policy == "latest"
    wrong = runner.invoke(main, args + ["nope", "best"])
    assert wrong.exit_code == 1 and "nope" in wrong.output
    assert runner.invoke(main, args + ["ml101", "worst"]).exit_code == 2
    database.dispose()
