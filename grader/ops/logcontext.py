"""``with log_context(submission_id=..., run_id=...)``: every log line inside carries the ids.

A worker logs from many places while it grades one run (the queue, the engine, the sandbox
client); passing ``extra=`` to each call would miss most of them. A context variable holds
the ids of the current task and :class:`ContextFilter`, on the service's log handler, copies
them onto every record. Context variables follow the code that runs, so two outbox threads
sending two deliveries at once never mix their ids up.

Threads started inside a context do not inherit it (Python 3.11 starts a thread with an
empty context): run such a thread's target with ``contextvars.copy_context().run`` if its
lines must carry the ids too.
"""

from __future__ import annotations

import contextlib
import contextvars
import logging
from typing import Any, Iterator, Mapping

_FIELDS: contextvars.ContextVar[Mapping[str, Any]] = contextvars.ContextVar("grader_log_fields", default={})


@contextlib.contextmanager
def log_context(**fields: Any) -> Iterator[None]:
    """Add ``fields`` (None values are left out) to every record logged inside the block;
    nested blocks add to the outer one's fields and restore them when they end."""
    merged = {**_FIELDS.get(), **{k: v for k, v in fields.items() if v is not None}}
    token = _FIELDS.set(merged)
    try:
        yield
    finally:
        _FIELDS.reset(token)


def current_fields() -> Mapping[str, Any]:
    return _FIELDS.get()


class ContextFilter(logging.Filter):
    """Copies the current context's fields onto each record, unless the call gave them
    itself (``extra=`` wins). Never drops a record."""

    def filter(self, record: logging.LogRecord) -> bool:
        for key, value in _FIELDS.get().items():
            if not hasattr(record, key):
                setattr(record, key, value)
        return True
