"""``grader.web.wsgi.create``, the factory gunicorn calls, in this process: it reads the
settings and the bank exactly as ``grader serve``'s web process does, and refuses a bad
configuration at boot with the reason instead of serving errors."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Iterator

import pytest

from grader.web import wsgi

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def loggers_restored() -> Iterator[None]:
    """create() configures logging as a web process would: undo it afterwards."""
    loggers = [logging.getLogger("grader"), logging.getLogger()]
    saved = [(lg.handlers[:], lg.level, lg.propagate) for lg in loggers]
    yield
    for logger, (handlers, level, propagate) in zip(loggers, saved):
        for handler in logger.handlers:
            if handler not in handlers:
                handler.close()
        logger.handlers[:], logger.level, logger.propagate = handlers, level, propagate


def test_the_factory_takes_its_settings_and_bank_from_the_environment(tmp_path: Path) -> None:
    instance = tmp_path / "instance"
    app = wsgi.create({"GRADER_INSTANCE_PATH": str(instance), "GRADER_BANK": str(ROOT),
                       "GRADER_TRUST_PROXY": "1", "GRADER_BASE_URL": "https://grader.example.edu",
                       "GRADER_SECRET_KEY": "k" * 64})
    config = app.config["GRADER"]
    assert config.instance_path == instance and config.trust_proxy and config.base_url == "https://grader.example.edu"
    assert app.config["SECRET_KEY"] == "k" * 64
    assert app.extensions["grader.bank"].root == ROOT.resolve()
    assert (instance / "logs" / "grader.log").exists()


def test_the_factory_logs_to_stderr_as_well_as_to_the_instance_log(tmp_path: Path, capfd) -> None:
    instance = tmp_path / "instance"
    wsgi.create({"GRADER_INSTANCE_PATH": str(instance), "GRADER_BANK": str(ROOT)})
    logging.getLogger("grader.web").warning("a line for both")
    assert "web[" in capfd.readouterr().err and "a line for both" in (instance / "logs" / "grader.log").read_text()


def test_in_json_mode_every_stderr_line_is_one_object_with_the_submission_id(tmp_path: Path, capfd) -> None:
    from grader.ops.logcontext import log_context

    wsgi.create({"GRADER_INSTANCE_PATH": str(tmp_path / "instance"), "GRADER_BANK": str(ROOT),
                 "GRADER_LOG_FORMAT": "json"})
    capfd.readouterr()
    with log_context(submission_id=42, run_id=7):
        logging.getLogger("grader.web").warning("stored")
    lines = [json.loads(line) for line in capfd.readouterr().err.splitlines()]
    assert [(x["message"], x["role"], x["submission_id"]) for x in lines] == [("stored", "web", 42)]


def test_a_behind_the_proxy_request_gets_the_forwarded_scheme_and_host(tmp_path: Path) -> None:
    app = wsgi.create({"GRADER_INSTANCE_PATH": str(tmp_path / "instance"), "GRADER_BANK": str(ROOT),
                       "GRADER_TRUST_PROXY": "1"})
    seen = {}

    @app.get("/_probe")
    def probe() -> str:
        from flask import request

        seen.update(scheme=request.scheme, host=request.host)
        return "ok"

    response = app.test_client().get("/_probe", headers={"X-Forwarded-Proto": "https",
                                                         "X-Forwarded-Host": "grader.example.edu"})
    assert response.status_code == 200 and seen == {"scheme": "https", "host": "grader.example.edu"}


def test_a_malformed_setting_is_refused_at_boot_with_its_name(tmp_path: Path) -> None:
    with pytest.raises(wsgi.StartupError, match="lease_seconds"):
        wsgi.create({"GRADER_INSTANCE_PATH": str(tmp_path / "instance"), "GRADER_BANK": str(ROOT),
                     "GRADER_LEASE_SECONDS": "soon"})


def test_unknown_grader_variables_are_ignored_as_by_grader_serve(tmp_path: Path) -> None:
    app = wsgi.create({"GRADER_INSTANCE_PATH": str(tmp_path / "instance"), "GRADER_BANK": str(ROOT),
                       "GRADER_NO_SUCH_THING": "1"})
    assert app.config["GRADER"].instance_path == tmp_path / "instance"


def test_an_unknown_log_format_is_refused_at_boot(tmp_path: Path) -> None:
    with pytest.raises(wsgi.StartupError, match="log_format"):
        wsgi.create({"GRADER_INSTANCE_PATH": str(tmp_path / "instance"), "GRADER_BANK": str(ROOT),
                     "GRADER_LOG_FORMAT": "xml"})


def test_a_missing_bank_is_refused_at_boot_with_where_it_looked(tmp_path: Path) -> None:
    with pytest.raises(wsgi.StartupError, match="no exercise bank"):
        wsgi.create({"GRADER_INSTANCE_PATH": str(tmp_path / "instance"), "GRADER_BANK": str(tmp_path / "nowhere")})
