"""Walking the autograd graph from a backward() root (or, without one, from what the call
computed), through autograd edges and the cut links :mod:`.tracking` recorded.

The graph is walked when backward() / torch.autograd.grad() is called, *before* the original
runs: it must be seen even when that backward raises.
"""

from __future__ import annotations

from typing import Any

from .snapshot import Candidate, Node, Snapshot
from .tables import MAX_EDGES, MAX_NODES
from .tensors import Tensor, grad_fn_of, requires_grad, shape_of


class GraphWalk:
    """The :class:`~.recorder.GraphRecorder` part that turns the autograd graph into a
    :class:`~.snapshot.Snapshot`: the last backward() root (``snapshot``, ``root_info``,
    ``backward_calls``), or the forest of results when no backward() ran."""

    def _on_backward(self, tensors: Any) -> None:
        self.backward_calls += 1
        self._rebound_since.clear()
        root = tensors
        if isinstance(tensors, (list, tuple)):
            root = next((t for t in tensors if isinstance(t, Tensor)), None)
        if not isinstance(root, Tensor):
            return
        named = self._stack_names()
        snap = Snapshot()
        _name_ops(snap, named)
        self._name_candidates(named)
        root_name = next((key for key, tensor in named if tensor is root), None)
        fn = grad_fn_of(root)
        if fn is not None:
            snap.root = self._walk(snap, ("fn", fn))
        else:
            snap.root = self._walk(snap, ("root", root))
        self.snapshot = snap
        self.root_info = {"label": root_name or "loss", "requires_grad": bool(requires_grad(root)),
                          "shape": shape_of(root), "leaf": root}

    def _name_candidates(self, named: list[tuple[str, Any]]) -> None:
        """``pred`` for the detach whose result the student called ``pred``."""
        for candidate in self._candidates.values():
            if candidate.name is None:
                for key, tensor in named:
                    if any(ref() is tensor for ref in candidate.outputs):
                        candidate.name = key
                        break

    def _walk(self, snap: Snapshot, start: tuple[str, Any]) -> int | None:
        """Add ``start`` and everything below it (autograd edges, then cut links)."""
        first, created = self._node(snap, start)
        if first is None:
            return None
        stack = [first] if created else []
        while stack:
            parent = stack.pop()
            fresh: list[int] = []
            for child in self._children(snap, parent):
                node, new = self._node(snap, child)
                if node is None:
                    continue
                self._edge(snap, parent, node)
                if new:
                    fresh.append(node)
            for candidate in self._links_of(snap, parent):
                node, new = self._node(snap, ("cut", candidate))
                if node is None:
                    continue
                if not any(p == parent and n == node for p, n, _ in snap.cut_links):
                    snap.cut_links.append((parent, node, candidate))
                if new:
                    fresh.append(node)
            stack.extend(reversed(fresh))
        return first

    def _node(self, snap: Snapshot, start: tuple[str, Any]) -> tuple[int | None, bool]:
        kind, obj = start
        if kind == "fn" and type(obj).__name__ == "AccumulateGrad":
            kind, obj = "leaf", getattr(obj, "variable", None)
            if not isinstance(obj, Tensor):
                return None, False
        if kind == "cut" and obj.kind == "detach":
            return self._node(snap, obj.sources[0]) if obj.sources and obj.sources[0] else (None, False)
        key = id(obj)
        if key in snap.index:
            return snap.index[key], False
        if len(snap.nodes) >= MAX_NODES:
            snap.truncated = True
            return None, False
        snap.index[key] = len(snap.nodes)
        snap.nodes.append(Node(kind, obj))
        return snap.index[key], True

    def _children(self, snap: Snapshot, node_id: int) -> list[tuple[str, Any]]:
        node = snap.nodes[node_id]
        if node.kind == "fn":
            return [("fn", f) for f, _ in getattr(node.obj, "next_functions", ()) if f is not None]
        if node.kind in ("cut", "update"):
            return [s for s in node.obj.sources if s is not None]
        return []

    def _links_of(self, snap: Snapshot, node_id: int) -> list[Candidate]:
        node = snap.nodes[node_id]
        tags: tuple[int, ...] = ()
        if node.kind == "fn":
            linked = self._cut_links.get(id(node.obj))
            if linked is not None and linked[0] is node.obj:
                tags = linked[1]
            rebound = self._rebinds.get(id(node.obj))
            if rebound is not None and rebound[0] is node.obj:
                snap.rebound.append((node_id, rebound[1]))
        elif node.kind == "root":
            tags = tuple(sorted(self._tags_of(node.obj)))
        return [self._candidates[t] for t in tags if t in self._candidates]

    def _edge(self, snap: Snapshot, parent: int, child: int) -> None:
        if (parent, child) in snap.edge_set:
            return
        if len(snap.edges) >= MAX_EDGES:
            snap.truncated = True
            return
        snap.edge_set.add((parent, child))
        snap.edges.append((parent, child))

    def _forest(self) -> Snapshot:
        """No backward() ran: the results the code computed with autograd recording (never
        used by a later op) and the in-place updates it made under no_grad."""
        snap = Snapshot()
        for fn in list(self._produced.values()):
            node = self._walk(snap, ("fn", fn))
            if node is not None and node not in snap.roots:
                snap.roots.append(node)
        for name, leaf in self._updates:
            node = self._walk(snap, ("update", Candidate("update", name, [("leaf", leaf)],
                                                         shape_of(leaf))))
            if node is not None:
                snap.roots.append(node)
        return snap

    def _add_rebound_after(self, snap: Snapshot) -> None:
        """Rebindings made after the last backward() and never used again (``w = w - lr *
        w.grad`` after a single backward): their results are what the call returns, so they
        are shown as trees of their own beside the root."""
        for fn in list(self._rebound_since.values()):
            if id(fn) in snap.index:
                continue
            node = self._walk(snap, ("fn", fn))
            if node is not None:
                snap.roots.append(node)


def _name_ops(snap: Snapshot, named: list[tuple[str, Any]]) -> None:
    """Name the grad_fn of every non-leaf the student's frames hold (``h``, ``pred``, ``w``)."""
    for key, tensor in named:
        fn = grad_fn_of(tensor)
        if fn is not None and id(fn) not in snap.fn_names:
            snap.fn_names[id(fn)] = (fn, key)

