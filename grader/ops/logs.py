"""Logging of the service processes: the classic text line, or one JSON object per line.

``grader serve`` and each child it starts (web, workers, outbox) call :func:`configure`
once with their role. Text stays the default and reads exactly as before; with
``log_format = "json"`` every line is an object with ``time``, ``level``, ``logger``,
``role``, ``pid``, ``message`` and, while a run or a delivery is handled, its ids (from
:mod:`grader.ops.logcontext`), so that a log shipper can follow one submission through many
processes on many machines.
"""

from __future__ import annotations

import datetime as dt
import logging
from pathlib import Path
from typing import TYPE_CHECKING

from grader.ops.logcontext import ContextFilter

if TYPE_CHECKING:
    from grader.config import Config

LOG_FORMATS = ("text", "json")
JSON_FIELDS = "%(asctime)s %(levelname)s %(name)s %(process)d %(message)s"
JSON_RENAMES = {"asctime": "time", "levelname": "level", "name": "logger", "process": "pid"}


def text_formatter(role: str) -> logging.Formatter:
    return logging.Formatter(f"%(asctime)s {role}[%(process)d] %(levelname)s %(name)s: %(message)s")


def json_formatter(role: str) -> logging.Formatter:
    """python-json-logger's formatter with our field names; a traceback becomes the string
    field ``exc_info`` of the same object, so a line is always one whole object."""
    from pythonjsonlogger.json import JsonFormatter

    class _Formatter(JsonFormatter):
        def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:  # noqa: N802
            stamp = dt.datetime.fromtimestamp(record.created, dt.timezone.utc)
            return stamp.isoformat(timespec="milliseconds")

    return _Formatter(JSON_FIELDS, rename_fields=JSON_RENAMES, static_fields={"role": role})


def formatter(log_format: str, role: str) -> logging.Formatter:
    if log_format not in LOG_FORMATS:
        raise ValueError(f"log_format must be one of {', '.join(LOG_FORMATS)}, got {log_format!r}")
    return json_formatter(role) if log_format == "json" else text_formatter(role)


def make_handler(path: Path, log_format: str, role: str) -> logging.Handler:
    chosen = formatter(log_format, role)  # first: a bad format opens no file
    handler = logging.FileHandler(path, encoding="utf-8")
    handler.setFormatter(chosen)
    handler.addFilter(ContextFilter())  # on the handler: it sees the records of every child logger
    return handler


def configure(config: "Config", role: str) -> logging.Handler:
    """Send the ``grader`` loggers of this process to ``instance/logs/grader.log``.

    In JSON mode the root logger writes its warnings there too (waitress, kombu, ...): a
    shipper that parses every line as JSON then never meets a stray text line."""
    handler = make_handler(config.log_dir / "grader.log", config.log_format, role)
    root = logging.getLogger("grader")
    root.handlers[:] = [handler]
    root.setLevel(logging.INFO)
    root.propagate = False
    if config.log_format == "json":
        everything = logging.getLogger()
        everything.handlers[:] = [handler]
        everything.setLevel(logging.WARNING)
    return handler
