"""The caps on what the recorder keeps, and the id-keyed tables it keeps it in."""

from __future__ import annotations

from typing import Any

MAX_NODES = 200
MAX_EDGES = 600
MAX_CUTS = 40
MAX_LABEL = 80
MAX_TEXT = 300
MAX_NAMES = 200
MAX_CANDIDATES = 64  # the most recent ones are kept
MAX_TAGGED = 20_000  # tensors carrying a tag at one time (dead ones are purged)
MAX_LINKS = 1024  # grad_fn -> cut candidates / rebound leaves, the most recent kept
MAX_PRODUCED = 32  # grad_fn results kept for a call without backward()
MAX_UPDATES = 32
MAX_MODULES = 64
MAX_ARG_TENSORS = 512
STACK_DEPTH = 64


def alive(table: dict[int, tuple[Any, Any]], obj: Any) -> Any:
    """What ``table`` holds for ``obj`` (a name, tags; keyed by id, checked through a weak
    reference: an id can be reused once its object is gone), None if nothing."""
    entry = table.get(id(obj))
    return entry[1] if entry is not None and entry[0]() is obj else None


def bounded_put(table: dict, key: Any, value: Any, limit: int) -> None:
    """``table[key] = value`` as the newest entry, dropping the oldest ones beyond ``limit``."""
    table.pop(key, None)
    table[key] = value
    while len(table) > limit:
        table.pop(next(iter(table)))

