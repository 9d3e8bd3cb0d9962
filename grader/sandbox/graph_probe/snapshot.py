"""What the recorder collects: cut candidates, and the graph of one backward root."""

from __future__ import annotations

from typing import Any


class Candidate:
    """A place where the chain may have been cut; a cut only if its tag reaches the graph."""

    __slots__ = ("kind", "what", "sources", "shape", "leaf", "outputs", "name")

    def __init__(self, kind: str, what: str, sources: list[Any], shape: list[int] | None,
                 leaf: Any = None):
        self.kind, self.what, self.sources, self.shape, self.leaf = kind, what, sources, shape, leaf
        self.outputs: list[Any] = []  # weak references to the values it produced
        self.name: str | None = None  # the student's name for such a value, e.g. "pred"


class Node:
    __slots__ = ("kind", "obj", "label", "name", "shape")

    def __init__(self, kind: str, obj: Any, label: str = "", name: str | None = None,
                 shape: list[int] | None = None):
        self.kind, self.obj, self.label, self.name, self.shape = kind, obj, label, name, shape


class Snapshot:
    """The graph of one backward root, as Python objects (turned into plain data at the end)."""

    def __init__(self) -> None:
        self.nodes: list[Node] = []
        self.index: dict[int, int] = {}  # id(grad_fn / leaf tensor / candidate) -> node id
        self.edges: list[tuple[int, int]] = []
        self.edge_set: set[tuple[int, int]] = set()
        self.cut_links: list[tuple[int, int, Candidate]] = []  # (parent, node, candidate)
        self.rebound: list[tuple[int, Any]] = []  # (op node, leaf tensor it was computed from)
        self.fn_names: dict[int, tuple[Any, str]] = {}  # id(grad_fn) -> (grad_fn, the student's name)
        self.root: int | None = None
        self.roots: list[int] = []  # without backward(): every top of the forest
        self.truncated = False

