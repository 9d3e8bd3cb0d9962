"""The web app for a WSGI server of your own: ``gunicorn 'grader.web.wsgi:create()'``.

``grader serve`` runs waitress and grading workers on one machine. A large course runs
many web processes (gunicorn, behind nginx or Caddy) on one or more machines, and the
grading workers elsewhere (``grader worker``). Each gunicorn worker calls :func:`create`,
which builds the app exactly as ``grader serve``'s web process does: the Config from the
defaults, ``$GRADER_INSTANCE_PATH/config.toml`` and ``GRADER_*`` variables; the bank from
``GRADER_BANK`` (or the current directory).

It migrates nothing: with many web processes starting at once, each would race to
migrate. Run ``grader db upgrade`` once per deploy, before the web processes start
(the ``migrate`` service of ``compose.yaml`` does).
"""

from __future__ import annotations

import logging
import sys
from typing import Mapping

from flask import Flask

from grader.config import Config, ConfigError


class StartupError(RuntimeError):
    """The configuration or the bank is unusable; the message says which and how to fix it."""


def create(environ: Mapping[str, str] | None = None) -> Flask:
    """The Flask app from the environment (gunicorn calls this once per worker process).

    Fails at boot, with a one-line reason on stderr, when the configuration or the bank
    is unusable: better a web process that does not start than one that answers 500."""
    from grader.engine.bank import Bank, BankError
    from grader.web import create_app

    try:
        config = Config.load(environ).ensure_instance()
        bank = Bank.locate({"GRADER_BANK": str(config.bank)} if config.bank else None)
        _configure_logging(config)
    except (ConfigError, BankError, OSError, ValueError) as exc:  # ValueError: a bad log_format
        print(f"torch-grader: cannot start the web app: {exc}", file=sys.stderr, flush=True)
        raise StartupError(str(exc)) from None
    return create_app(config, bank=bank)


def _configure_logging(config: Config) -> None:
    """The same log file, format and submission ids as ``grader serve``'s web process, and
    the same lines on stderr: in a container the log is what the process writes there."""
    from grader.ops import logs

    to_file = logs.configure(config, "web")
    stderr = logging.StreamHandler(sys.stderr)
    stderr.setFormatter(to_file.formatter)
    for log_filter in to_file.filters:
        stderr.addFilter(log_filter)
    for name in ("grader", "") if config.log_format == "json" else ("grader",):
        logging.getLogger(name).addHandler(stderr)
