"""Strict validation of a graph as the sandbox reports it (see the schema in :mod:`grader.engine.graph`).

The sandbox runs the student's code and may say anything: every key, type, size and reference
is checked, and a graph that is wrong in any way is dropped, never repaired.
"""

from __future__ import annotations

import unicodedata
from typing import Any

MAX_NODES = 200
MAX_EDGES = 600
MAX_CUTS = 40
MAX_NAMES = 200
MAX_LABEL = 80
MAX_TEXT = 300
MAX_DIMS = 8
MAX_DIM = 1 << 40
MAX_BACKWARD_CALLS = 10**9

NODE_KINDS = frozenset({"op", "param", "input", "leaf"})
CUT_KINDS = frozenset({"no-grad-fn", "detach", "no-grad", "new-leaf", "unreached", "not-in-optimizer",
                       "stale-in-optimizer", "rebound", "no-backward", "non-leaf-grad"})
_GRAPH_KEYS = frozenset({"root", "backward_calls", "nodes", "edges", "cuts", "reached", "unreached",
                         "truncated"})
_ROOT_KEYS = frozenset({"label", "node", "requires_grad", "shape"})
_NODE_KEYS = frozenset({"id", "kind", "label", "name", "shape"})
_CUT_KEYS = frozenset({"kind", "node", "parent", "text"})


class _Invalid(Exception):
    pass


def validate(data: Any) -> dict[str, Any] | None:
    """A fresh, normalised copy of a graph report, or ``None`` if anything about it is wrong
    (a missing or extra key, a wrong type, a size over its cap, an edge to a node that does not
    exist). Never raises."""
    try:
        return _graph(data)
    except Exception:  # noqa: BLE001 - _Invalid, or whatever arrived is not a graph
        return None


def _graph(data: Any) -> dict[str, Any]:
    _keys(data, _GRAPH_KEYS)
    nodes = [_node(n) for n in _list(data["nodes"], MAX_NODES)]
    ids = [n["id"] for n in nodes]
    if len(set(ids)) != len(ids):
        raise _Invalid("duplicate node id")
    known = set(ids)
    edges = [_edge(e, known) for e in _list(data["edges"], MAX_EDGES)]
    if len({tuple(e) for e in edges}) != len(edges):
        raise _Invalid("duplicate edge")
    return {
        "root": _root(data["root"], known),
        "backward_calls": _int(data["backward_calls"], 0, MAX_BACKWARD_CALLS),
        "nodes": nodes,
        "edges": edges,
        "cuts": [_cut(c, known) for c in _list(data["cuts"], MAX_CUTS)],
        "reached": [_string(s, MAX_LABEL) for s in _list(data["reached"], MAX_NAMES)],
        "unreached": [_string(s, MAX_LABEL) for s in _list(data["unreached"], MAX_NAMES)],
        "truncated": _bool(data["truncated"]),
    }


def _root(data: Any, known: set[int]) -> dict[str, Any]:
    _keys(data, _ROOT_KEYS)
    return {"label": _string(data["label"], MAX_LABEL), "node": _ref(data["node"], known),
            "requires_grad": _bool(data["requires_grad"]), "shape": _shape(data["shape"])}


def _node(data: Any) -> dict[str, Any]:
    _keys(data, _NODE_KEYS)
    if data["kind"] not in NODE_KINDS:
        raise _Invalid("node kind")
    return {"id": _int(data["id"], 0, 10**6), "kind": str(data["kind"]),
            "label": _string(data["label"], MAX_LABEL),
            "name": None if data["name"] is None else _string(data["name"], MAX_LABEL),
            "shape": _shape(data["shape"])}


def _edge(data: Any, known: set[int]) -> list[int]:
    pair = _list(data, 2)
    if len(pair) != 2:
        raise _Invalid("edge")
    a, b = (_int(v, 0, 10**6) for v in pair)
    if a not in known or b not in known or a == b:
        raise _Invalid("edge end")
    return [a, b]


def _cut(data: Any, known: set[int]) -> dict[str, Any]:
    _keys(data, _CUT_KEYS)
    if data["kind"] not in CUT_KINDS:
        raise _Invalid("cut kind")
    return {"kind": str(data["kind"]), "node": _ref(data["node"], known),
            "parent": _ref(data["parent"], known), "text": _string(data["text"], MAX_TEXT)}


def _keys(data: Any, keys: frozenset[str]) -> None:
    if type(data) is not dict or set(data) != keys:
        raise _Invalid("keys")


def _list(data: Any, cap: int) -> list:
    if type(data) is not list or len(data) > cap:
        raise _Invalid("list")
    return data


def _int(data: Any, low: int, high: int) -> int:
    if type(data) is not int or not low <= data <= high:
        raise _Invalid("int")
    return int(data)


def _bool(data: Any) -> bool:
    if type(data) is not bool:
        raise _Invalid("bool")
    return bool(data)


def _ref(data: Any, known: set[int]) -> int | None:
    if data is None:
        return None
    value = _int(data, 0, 10**6)
    if value not in known:
        raise _Invalid("reference")
    return value


def _shape(data: Any) -> list[int] | None:
    if data is None:
        return None
    return [_int(v, 0, MAX_DIM) for v in _list(data, MAX_DIMS)]


def _string(data: Any, cap: int) -> str:
    if type(data) is not str or len(data) > cap:
        raise _Invalid("string")
    if any(unicodedata.category(c) in ("Cc", "Cs", "Co", "Cn") for c in data):
        raise _Invalid("control character")
    return str(data)

