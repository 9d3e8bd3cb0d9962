"""``grader sources add|rotate|list`` against a real database (SQLite and PostgreSQL): a secret
is printed once and really verifies webhooks, rotation keeps the old secret for its grace,
the list is a table, and every mistake is a one-line error, never a traceback."""

from __future__ import annotations

import datetime as dt
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from standardwebhooks.webhooks import Webhook

import grader.cli.service  # noqa: F401 - adds its commands to the group
import grader.cli.sources  # noqa: F401
from grader.cli.base import main
from grader.lms import sources

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def grader_cli(tmp_path: Path, database_url: str):
    runner = CliRunner()

    def invoke(*args: str) -> Result:
        result = runner.invoke(main, [*args, "--instance", str(tmp_path / "instance")],
                               env={"GRADER_DATABASE_URL": database_url})
        assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
        assert "Traceback" not in result.output
        return result

    return invoke


def printed_secret(result: Result) -> str:
    assert result.exit_code == 0, result.output
    secret = result.stdout.strip().splitlines()[-1]
    assert secret.startswith("whsec_") and result.stdout.count("whsec_") == 1
    return secret


def verifies(db, name: str, secret: str) -> bool:  # noqa: ANN001
    at = dt.datetime.now(dt.timezone.utc)
    body = b'{"hello": "world"}'
    headers = {"webhook-id": "m1", "webhook-timestamp": str(math.floor(at.timestamp())),
               "webhook-signature": Webhook(secret).sign("m1", at, body.decode())}
    with db.reading() as session:
        valid = [row.secret for row in sources.valid_secrets(session, sources.source_by_name(session, name))]
    try:
        sources.verify(valid, body, headers, 300)
        return True
    except sources.WebhookRefused:
        return False


def test_add_prints_a_whsec_secret_once_that_verifies_webhooks(grader_cli, db):
    result = grader_cli("sources", "add", "canvas", "--callback-allow", "HTTPS://Canvas.Example.edu/grades/")
    secret = printed_secret(result)
    assert "/api/v1/webhooks/canvas" in result.stderr and "webhook-signature" in result.stderr
    assert "https://canvas.example.edu/grades/" in result.stderr
    assert verifies(db, "canvas", secret)
    assert not verifies(db, "canvas", sources.new_secret())


def test_list_shows_each_source_with_its_allow_list_and_valid_secrets(grader_cli):
    printed_secret(grader_cli("sources", "add", "moodle"))
    printed_secret(grader_cli("sources", "add", "canvas", "--callback-allow", "https://a.example/x",
                              "--callback-allow", "https://b.example/"))
    printed_secret(grader_cli("sources", "rotate", "canvas"))
    result = grader_cli("sources", "list")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["NAME", "SECRETS", "CREATED", "CALLBACK", "ALLOW-LIST"]
    canvas, moodle = lines[1].split(), lines[2].split()
    assert canvas[0] == "canvas" and canvas[1] == "2" and canvas[-2:] == ["https://a.example/x", "https://b.example/"]
    assert moodle[0] == "moodle" and moodle[1] == "1" and moodle[-1] == "-"
    assert "whsec_" not in result.output


def test_list_of_no_sources_says_how_to_add_one(grader_cli):
    result = grader_cli("sources", "list")
    assert result.exit_code == 0 and result.stdout == "" and "grader sources add" in result.stderr


def test_rotate_prints_a_new_secret_and_the_old_one_verifies_during_the_grace(grader_cli, db):
    old = printed_secret(grader_cli("sources", "add", "lms"))
    result = grader_cli("sources", "rotate", "lms", "--grace-hours", "24")
    new = printed_secret(result)
    assert new != old and "in 24 h" in result.stderr
    assert verifies(db, "lms", old) and verifies(db, "lms", new)
    with db.reading() as session:
        assert sources.signing_secret(session, sources.source_by_name(session, "lms")) == new


def test_rotate_with_no_grace_stops_the_old_secret_at_once(grader_cli, db):
    old = printed_secret(grader_cli("sources", "add", "lms"))
    new = printed_secret(grader_cli("sources", "rotate", "lms", "--grace-hours", "0"))
    assert not verifies(db, "lms", old) and verifies(db, "lms", new)


@pytest.mark.parametrize("args, message", [
    (("sources", "add", "Canvas LMS"), "is not a source name"),
    (("sources", "add", "-x"), "No such option"),
    (("sources", "add", "ok", "--callback-allow", "ftp://files.example/"), "is not an http(s) URL prefix"),
    (("sources", "add", "ok", "--callback-allow", "https://user@host.example/"), "is not an http(s) URL prefix"),
    (("sources", "rotate", "ghost"), "there is no source 'ghost'"),
    (("sources", "rotate", "lms", "--grace-hours", "-1"), "-1"),
    (("sources", "rotate", "lms", "--grace-hours", "soon"), "soon"),
])
def test_mistakes_are_clean_errors(grader_cli, args, message):
    printed_secret(grader_cli("sources", "add", "lms"))
    result = grader_cli(*args)
    assert result.exit_code in (1, 2) and message in result.output, result.output
    assert "whsec_" not in result.stdout


def test_adding_a_source_twice_is_refused_and_keeps_the_first_secret(grader_cli, db):
    first = printed_secret(grader_cli("sources", "add", "lms"))
    result = grader_cli("sources", "add", "lms")
    assert result.exit_code == 1 and "exists already" in result.output and "grader sources rotate lms" in result.output
    assert verifies(db, "lms", first)


def test_help_shows_examples():
    runner = CliRunner()
    for command in (["sources"], ["sources", "add"], ["sources", "rotate"], ["sources", "list"]):
        result = runner.invoke(main, [*command, "--help"])
        assert result.exit_code == 0 and "grader sources" in result.output, result.output
    assert "--callback-allow" in runner.invoke(main, ["sources", "add", "--help"]).output
    assert "--grace-hours" in runner.invoke(main, ["sources", "rotate", "--help"]).output


@pytest.mark.slow
def test_installed_command_adds_and_lists_a_source(tmp_path: Path):
    env = {**os.environ, "GRADER_INSTANCE_PATH": str(tmp_path / "instance")}
    env.pop("GRADER_DATABASE_URL", None)

    def run(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "grader", *args], cwd=ROOT, env=env, capture_output=True,
                              text=True, timeout=120)

    added = run("sources", "add", "canvas", "--callback-allow", "https://canvas.example.edu/grades/")
    assert added.returncode == 0, added.stderr
    assert added.stdout.strip().startswith("whsec_") and len(added.stdout.strip().splitlines()) == 1
    listed = run("sources", "list")
    assert listed.returncode == 0 and "canvas" in listed.stdout
    assert "https://canvas.example.edu/grades/" in listed.stdout
    again = run("sources", "add", "canvas")
    assert again.returncode == 1 and "exists already" in again.stderr and "Traceback" not in again.stderr
