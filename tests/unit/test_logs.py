"""Service log lines: the text line as it always was, or one JSON object per line carrying
the ids of the run (or delivery) being handled."""

from __future__ import annotations

import json
import logging
import threading
from pathlib import Path

import pytest

from grader.config import Config
from grader.ops import logs
from grader.ops.logcontext import ContextFilter, current_fields, log_context


@pytest.fixture
def capture(tmp_path: Path):  # noqa: ANN201
    """A logger writing through the service's handler to a file; yields (logger, read)."""
    made = []

    def build(log_format: str, role: str = "worker"):  # noqa: ANN202
        path = tmp_path / f"{log_format}.log"
        handler = logs.make_handler(path, log_format, role)
        logger = logging.getLogger(f"grader.test_logs.{log_format}")
        logger.handlers[:] = [handler]
        logger.setLevel(logging.INFO)
        logger.propagate = False
        made.append((logger, handler))
        return logger, lambda: path.read_text(encoding="utf-8").splitlines()

    yield build
    for logger, handler in made:
        logger.handlers.remove(handler)
        handler.close()


def test_json_lines_are_objects_with_the_agreed_fields(capture):
    logger, read = capture("json", role="outbox")
    logger.info("sent %d of %d", 1, 2)
    (line,) = read()
    record = json.loads(line)
    assert list(record)[:6] == ["time", "level", "logger", "pid", "message", "role"]
    assert record["level"] == "INFO" and record["logger"] == "grader.test_logs.json"
    assert record["role"] == "outbox" and isinstance(record["pid"], int) and record["message"] == "sent 1 of 2"
    assert record["time"].endswith("+00:00") and "T" in record["time"]


def test_every_line_inside_a_log_context_carries_its_ids_and_extra_wins(capture):
    logger, read = capture("json")
    with log_context(submission_id=7, run_id=70):
        logger.info("start")
        with log_context(check="forward"):
            logger.warning("inner")
        logger.info("explicit", extra={"run_id": 71})
    logger.info("after")
    start, inner, explicit, after = (json.loads(line) for line in read())
    assert (start["submission_id"], start["run_id"]) == (7, 70)
    assert (inner["submission_id"], inner["run_id"], inner["check"]) == (7, 70, "forward")
    assert explicit["run_id"] == 71 and explicit["submission_id"] == 7
    assert "submission_id" not in after and "run_id" not in after


def test_a_traceback_stays_inside_one_json_line(capture):
    logger, read = capture("json")
    try:
        raise RuntimeError("boom")
    except RuntimeError:
        logger.exception("grading raised")
    (line,) = read()
    record = json.loads(line)
    assert "RuntimeError: boom" in record["exc_info"] and record["level"] == "ERROR"


def test_text_lines_read_exactly_as_before(capture):
    logger, read = capture("text", role="web")
    with log_context(submission_id=3):
        logger.warning("slow page")
    (line,) = read()
    old = logging.Formatter("%(asctime)s web[%(process)d] %(levelname)s %(name)s: %(message)s")
    expected = old.format(logging.LogRecord("grader.test_logs.text", logging.WARNING, __file__, 1, "slow page", (), None))
    assert line.split(" ", 2)[2] == expected.split(" ", 2)[2]  # everything after the timestamp
    assert line.endswith("web[%d] WARNING grader.test_logs.text: slow page" % __import__("os").getpid())


def test_contexts_do_not_leak_between_threads():
    seen = {}

    def work(n: int) -> None:
        with log_context(delivery_id=n):
            barrier.wait(timeout=5)
            seen[n] = dict(current_fields())

    barrier = threading.Barrier(2)
    threads = [threading.Thread(target=work, args=(n,)) for n in (1, 2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=5)
    assert seen == {1: {"delivery_id": 1}, 2: {"delivery_id": 2}}
    assert current_fields() == {}


def test_the_filter_never_drops_a_record():
    record = logging.LogRecord("grader", logging.INFO, __file__, 1, "x", (), None)
    with log_context(run_id=None, submission_id=5):  # None values are left out
        assert ContextFilter().filter(record) is True
    assert record.submission_id == 5 and not hasattr(record, "run_id")


def test_an_unknown_log_format_is_refused_by_name(tmp_path):
    config = Config(instance_path=tmp_path, log_format="xml").ensure_instance()
    with pytest.raises(ValueError, match="log_format must be one of text, json"):
        logs.configure(config, "web")
