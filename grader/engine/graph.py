"""The student's autograd graph, trusted side: validation of what the sandbox reported, and
its renderings (an indented text tree for ``grader grade``, an inline SVG for the web page).

The sandbox's :mod:`grader.sandbox.graph_probe` reports one graph as plain data::

    {"root": {"label": "loss", "node": 0, "requires_grad": True, "shape": []},
     "backward_calls": 2,
     "nodes": [{"id": 0, "kind": "op", "label": "MeanBackward0", "name": "loss", "shape": []},
               {"id": 1, "kind": "leaf", "label": "leaf made by your code", "name": "w", "shape": [1]}, ...],
     "edges": [[0, 1], ...],                      # towards the leaves, the way backward() goes
     "cuts": [{"kind": "rebound", "node": 1, "parent": 0, "text": "..."}, ...],
     "reached": ["w", ...], "unreached": ["model.0.weight", ...], "truncated": False}

``kind`` of a node: ``op`` (a grad_fn, or an op the code ran under ``no_grad``), ``param`` (a
parameter of a module the code used, or the tensors an optimizer holds), ``input`` (a tensor
of the call's arguments), ``leaf`` (any other leaf). A cut with a ``parent`` that is not also
an edge is a *cut link*: the value below was cut off from the one above (a ``.detach()``,
``no_grad``); it is drawn as a red dashed edge. Everything is validated strictly on arrival
(:func:`validate`): the sandbox runs the student's code and may say anything.
"""

from __future__ import annotations

import math
import re
import unicodedata
from html import escape
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
CUT_TITLES = {
    "no-grad-fn": "no grad_fn", "detach": "detached", "no-grad": "under no_grad",
    "new-leaf": "new leaf", "unreached": "not reached", "not-in-optimizer": "not in the optimizer",
    "stale-in-optimizer": "stale optimizer", "rebound": "rebound", "no-backward": "no backward()",
    "non-leaf-grad": ".grad of a non-leaf",
}
_GRAPH_KEYS = frozenset({"root", "backward_calls", "nodes", "edges", "cuts", "reached", "unreached",
                         "truncated"})
_ROOT_KEYS = frozenset({"label", "node", "requires_grad", "shape"})
_NODE_KEYS = frozenset({"id", "kind", "label", "name", "shape"})
_CUT_KEYS = frozenset({"kind", "node", "parent", "text"})
SCISSORS = "✂"


class _Invalid(Exception):
    pass


# ----------------------------------------------------------------------------- validation
def validate(data: Any) -> dict[str, Any] | None:
    """A fresh, normalised copy of a graph report, or ``None`` if anything about it is wrong
    (a missing or extra key, a wrong type, a size over its cap, an edge to a node that does not
    exist). Never raises."""
    try:
        return _graph(data)
    except _Invalid:
        return None
    except Exception:  # noqa: BLE001 - whatever arrived, it is not a graph
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


# ----------------------------------------------------------------------------- shared views
def _shape_text(shape: list[int] | None) -> str:
    """``(3, 1)``, ``(4,)``; nothing for a scalar or an unknown shape."""
    if not shape:
        return ""
    return "(" + ", ".join(str(s) for s in shape) + ("," if len(shape) == 1 else "") + ")"


def node_text(node: dict[str, Any]) -> str:
    """``h = TanhBackward0 (2, 3)``, ``model.0.weight [parameter] (4, 3)``."""
    shape = _shape_text(node["shape"])
    if node["kind"] == "op":
        head = f"{node['name']} = {node['label']}" if node["name"] else node["label"]
    else:
        head = f"{node['name']} [{node['label']}]" if node["name"] else f"[{node['label']}]"
    return f"{head} {shape}".rstrip()


NOTES = frozenset({"no-backward"})  # said about the whole call, not a break in the chain


def cut_list(graph: dict[str, Any], notes: bool = False) -> list[dict[str, str]]:
    """The cuts as text: ``{"kind", "title", "where", "text"}`` (``where`` names the node);
    with ``notes``, only the remarks about the whole call (no backward() at all) instead."""
    by_id = {n["id"]: n for n in graph["nodes"]}
    shown = []
    for cut in graph["cuts"]:
        if (cut["kind"] in NOTES) != notes:
            continue
        node = by_id.get(cut["node"]) if cut["node"] is not None else None
        where = ""
        if node is not None:
            where = node["name"] or node["label"]
        shown.append({"kind": cut["kind"], "title": CUT_TITLES.get(cut["kind"], cut["kind"]),
                      "where": where, "text": cut["text"]})
    return shown


class _Layout:
    """Who hangs below whom: autograd edges plus cut links, the tops of the drawing, and the
    nodes nothing connects (unreached parameters, optimizers' stale tensors)."""

    def __init__(self, graph: dict[str, Any]):
        self.graph = graph
        self.by_id = {n["id"]: n for n in graph["nodes"]}
        self.order = [n["id"] for n in graph["nodes"]]
        edges = {(a, b) for a, b in graph["edges"]}
        self.children: dict[int, list[tuple[int, bool]]] = {i: [] for i in self.order}
        self.parents: dict[int, list[int]] = {i: [] for i in self.order}
        for a, b in graph["edges"]:
            self.children[a].append((b, False))
            self.parents[b].append(a)
        self.links: set[tuple[int, int]] = set()
        for cut in graph["cuts"]:
            a, b = cut["parent"], cut["node"]
            if a is not None and b is not None and a != b and (a, b) not in edges and (a, b) not in self.links:
                self.links.add((a, b))
                self.children[a].append((b, True))
                self.parents[b].append(a)
        self.link_kind: dict[tuple[int, int], str] = {}
        self.cut_kinds: dict[int, list[str]] = {}  # cuts marked on the node itself
        self.all_kinds: dict[int, list[str]] = {}  # ... and those at the end of a cut link
        for cut in graph["cuts"]:
            if cut["node"] is None:
                continue
            pair = (cut["parent"], cut["node"])
            if pair in self.links:
                self.link_kind.setdefault(pair, cut["kind"])
            else:
                self.cut_kinds.setdefault(cut["node"], []).append(cut["kind"])
            self.all_kinds.setdefault(cut["node"], []).append(cut["kind"])
        root = graph["root"]["node"]
        parentless = [i for i in self.order if not self.parents[i]]
        self.loose = [i for i in parentless if i != root and not self.children[i]]
        self.tops = ([root] if root is not None else []) + [i for i in parentless
                                                             if i != root and i not in self.loose]
        self.behind_cut = self._behind_cuts()

    def _behind_cuts(self) -> set[int]:
        """Nodes backward() does not get to: reachable from the tops only through a cut link."""
        reached: set[int] = set()
        stack = list(self.tops)
        while stack:
            node = stack.pop()
            if node in reached:
                continue
            reached.add(node)
            stack += [child for child, link in self.children[node] if not link]
        return {i for i in self.order if i not in reached and i not in self.loose}


# ----------------------------------------------------------------------------- text
def render_text(graph: dict[str, Any]) -> str:
    """An indented tree from the root, one node per line; a node reached twice is printed once
    and referred to (``-> #3``); cuts are marked with ✂ and explained below the tree."""
    layout = _Layout(graph)
    lines = [_headline(graph)] + [note["text"] for note in cut_list(graph, notes=True)]
    shared = {i for i in layout.order if len(layout.parents[i]) + (i in layout.tops) > 1}
    printed: set[int] = set()
    root = graph["root"]["node"]
    for number, top in enumerate(layout.tops):
        if root is not None and number == 1:  # trees beside the root's: computed, never used
            lines.append("Also computed with autograd recording, but used by no backward():")
        _tree_lines(layout, top, shared, printed, lines)
    if layout.loose:
        lines.append("Not connected to the graph:")
        for node in layout.loose:
            lines.append("  " + _node_line(layout, node, shared))
    cuts = cut_list(graph)
    if cuts:
        lines.append("Where the chain breaks:")
        for cut in cuts:
            where = f" at {cut['where']}" if cut["where"] else ""
            lines.append(f"  {SCISSORS} {cut['title']}{where}: {cut['text']}")
    reached = ", ".join(graph["reached"]) or "none"
    lines.append(("Reached by backward(): " if graph["backward_calls"] else "Leaves in the graph: ") + reached)
    if graph["unreached"]:
        lines.append("Not reached: " + ", ".join(graph["unreached"]))
    if graph["truncated"]:
        lines.append(f"(the graph was cut short at {MAX_NODES} nodes)")
    return "\n".join(lines)


def _headline(graph: dict[str, Any]) -> str:
    calls = graph["backward_calls"]
    if calls == 0:
        return "No backward() ran in this call; what the code computed:"
    shape = _shape_text(graph["root"]["shape"])
    root = f"{graph['root']['label']} {shape}".rstrip()
    if calls == 1:
        return f"backward() from {root}:"
    return f"backward() from {root} (the last of {calls} backward() calls in this call):"


def _node_line(layout: _Layout, node: int, shared: set[int]) -> str:
    text = node_text(layout.by_id[node])
    if node in shared:
        text += f"  [#{node}]"
    for kind in layout.cut_kinds.get(node, []):
        text += f"  {SCISSORS} {CUT_TITLES.get(kind, kind)}"
    return text


def _tree_lines(layout: _Layout, top: int, shared: set[int], printed: set[int],
                lines: list[str]) -> None:
    """Depth-first, iteratively (a 200-node chain must not hit the recursion limit)."""
    stack: list[tuple[int, str, str, bool, int | None]] = [(top, "", "", True, None)]
    while stack:
        node, prefix, connector, last, parent = stack.pop()
        kind = layout.link_kind.get((parent, node)) if parent is not None else None
        marker = f"{SCISSORS} {CUT_TITLES.get(kind, kind)}: " if kind else ""
        if node in printed:
            lines.append(f"{prefix}{connector}{marker}-> #{node} (above)")
            continue
        printed.add(node)
        lines.append(f"{prefix}{connector}{marker}{_node_line(layout, node, shared)}")
        below = prefix + ("" if not connector else ("   " if last else "│  "))
        children = layout.children[node]
        entries = [(child, below, "└─ " if i == len(children) - 1 else "├─ ", i == len(children) - 1, node)
                   for i, (child, _) in enumerate(children)]
        stack.extend(reversed(entries))


def render_pair_text(pair: dict[str, Any] | None) -> str:
    """"Your graph:" then "Expected graph:", each tree indented under its title."""
    if not pair or not isinstance(pair, dict):
        return ""
    parts = []
    for key, title in (("student", "Your graph"), ("expected", "Expected graph (the reference solution)")):
        graph = pair.get(key)
        parts.append(f"{title}:")
        if graph is None:
            parts.append("  (not available)")
        else:
            parts += ["  " + line for line in render_text(graph).splitlines()]
    return "\n".join(parts)


# ----------------------------------------------------------------------------- SVG
BOX_HEIGHT = 40
CUT_LINE = 15  # a box with a cut has a third line naming it
ROW_GAP = 40
COLUMN_GAP = 18
MARGIN = 12
CHAR_WIDTH = 7.0  # 12px monospace
BOX_CHARS = 36
MIN_BOX = 76
FONT = "ui-monospace, SFMono-Regular, Menlo, Consolas, 'Liberation Mono', monospace"
FILL = {"op": "#eef2ff", "param": "#e6f4ea", "input": "#fff6d6", "leaf": "#f3f4f6"}
STROKE = {"op": "#4f5b93", "param": "#1a7f37", "input": "#9a6700", "leaf": "#5f6b7a"}
CUT_COLOUR = "#b42318"
GREY = "#9aa3ad"
INK = "#1d2330"
EDGE = "#4b5563"

Box = tuple[float, float, float, float]  # x, y, width, height


def render_svg(graph: dict[str, Any], title: str = "Autograd graph", ident: str = "graph") -> str:
    """A layered drawing: the root on top, each row one step further from it; boxes with the
    node's name and grad_fn, arrows the way backward() goes, cut links red and dashed, nodes
    with a cut outlined red and labelled, what backward() does not get to greyed. Deterministic,
    every label escaped, no external dependency. ``ident`` makes the element ids unique on a
    page (two graphs side by side)."""
    ident = re.sub(r"[^A-Za-z0-9_-]", "-", ident)[:60] or "graph"
    layout = _Layout(graph)
    rows = _rows(layout)
    boxes = _place(layout, rows)
    width = max([MARGIN * 2 + 240] + [x + w + MARGIN for x, _, w, _ in boxes.values()])
    height = max([MARGIN * 2 + BOX_HEIGHT] + [y + h + MARGIN for _, y, _, h in boxes.values()])
    width, height = int(math.ceil(width)), int(math.ceil(height))
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="graph-svg" role="img" viewBox="0 0 {width} {height}" '
        f'width="{width}" height="{height}" aria-labelledby="{ident}-title {ident}-desc">',
        f'<title id="{ident}-title">{escape(title)}</title>',
        f'<desc id="{ident}-desc">{escape(_summary(graph))}</desc>',
        "<defs>" + _marker(f"{ident}-arrow", EDGE) + _marker(f"{ident}-grey", GREY)
        + _marker(f"{ident}-cut", CUT_COLOUR) + "</defs>",
    ]
    parts += _edges_svg(layout, boxes, ident)
    loose = [boxes[i] for i in layout.loose if i in boxes]
    if loose:
        parts.append(f'<text x="{MARGIN}" y="{min(b[1] for b in loose) - 7:.1f}" font-size="11" fill="#6b7480" '
                     f'font-family="{FONT}">not connected to {escape(graph["root"]["label"])}:</text>')
    parts += [_box_svg(layout, node, boxes[node]) for node in layout.order if node in boxes]
    if not boxes:
        parts.append(f'<text x="{MARGIN}" y="{MARGIN + 24}" font-size="12" fill="{INK}" '
                     f'font-family="{FONT}">{escape(_headline(graph))} nothing.</text>')
    parts.append("</svg>")
    return "".join(parts)


def _marker(ident: str, colour: str) -> str:
    return (f'<marker id="{ident}" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" '
            f'orient="auto-start-reverse"><path d="M0,0L10,5L0,10z" fill="{colour}"/></marker>')


def _rows(layout: _Layout) -> list[list[int]]:
    """Depth = the longest path from a top (so every edge points downwards); the loose nodes
    go in a row of their own at the bottom."""
    depth: dict[int, int] = {top: 0 for top in layout.tops}
    indegree = {i: 0 for i in layout.order}
    for node in layout.order:
        for child, _ in layout.children[node]:
            indegree[child] += 1
    queue = list(layout.tops)
    while queue:
        node = queue.pop(0)
        for child, _ in layout.children[node]:
            depth[child] = max(depth.get(child, 0), depth[node] + 1)
            indegree[child] -= 1
            if indegree[child] == 0:
                queue.append(child)
    for node in layout.order:  # in a cycle (never from autograd, but the data is not trusted)
        if node not in depth and node not in layout.loose:
            depth[node] = 0
    count = max(depth.values(), default=-1) + 1
    rows: list[list[int]] = [[] for _ in range(count)]
    for node in layout.order:
        if node in depth and node not in layout.loose:
            rows[min(depth[node], count - 1)].append(node)
    rows = _order_rows(layout, [row for row in rows if row])
    if layout.loose:
        rows.append(list(layout.loose))
    return rows


def _order_rows(layout: _Layout, rows: list[list[int]]) -> list[list[int]]:
    """Within a row, nodes follow their parents (the mean of the parents' relative positions
    in the rows above), then the report's order."""
    position: dict[int, float] = {}
    rank = {node: index for index, node in enumerate(layout.order)}
    ordered: list[list[int]] = []
    for row in rows:
        def key(node: int) -> tuple[float, int]:
            placed = [position[p] for p in layout.parents[node] if p in position]
            return (sum(placed) / len(placed) if placed else 0.0, rank[node])

        row = sorted(row, key=key)
        for index, node in enumerate(row):
            position[node] = (index + 0.5) / len(row)
        ordered.append(row)
    return ordered


def _box_lines(node: dict[str, Any]) -> tuple[str, str]:
    shape = _shape_text(node["shape"])
    if node["name"]:
        return node["name"], f"{node['label']} {shape}".rstrip()
    return node["label"], shape


def _cut_line(layout: _Layout, node: int) -> str:
    kinds = layout.all_kinds.get(node, [])
    return f"{SCISSORS} " + ", ".join(dict.fromkeys(CUT_TITLES.get(k, k) for k in kinds)) if kinds else ""


def _short(text: str, limit: int = BOX_CHARS) -> str:
    return text if len(text) <= limit else text[:limit - 1] + "…"


def _box_size(layout: _Layout, node: int) -> tuple[float, float]:
    lines = [*_box_lines(layout.by_id[node]), _cut_line(layout, node)]
    chars = max(len(_short(line)) for line in lines)
    height = BOX_HEIGHT + (CUT_LINE if lines[2] else 0)
    return max(MIN_BOX, chars * CHAR_WIDTH + 16), height


def _place(layout: _Layout, rows: list[list[int]]) -> dict[int, Box]:
    """Every box: rows centred on the widest one, each row as tall as its tallest box."""
    sizes = {i: _box_size(layout, i) for row in rows for i in row}
    row_widths = [sum(sizes[i][0] for i in row) + COLUMN_GAP * (len(row) - 1) for row in rows]
    widest = max(row_widths, default=0)
    boxes: dict[int, Box] = {}
    y = float(MARGIN)
    for number, row in enumerate(rows):
        if layout.loose and number == len(rows) - 1 and number:
            y += 14  # room for the "not connected" caption
        x = MARGIN + (widest - row_widths[number]) / 2
        for node in row:
            w, h = sizes[node]
            boxes[node] = (round(x, 1), y, round(w, 1), h)
            x += w + COLUMN_GAP
        y += max(sizes[i][1] for i in row) + ROW_GAP
    return boxes


def _edges_svg(layout: _Layout, boxes: dict[int, Box], ident: str) -> list[str]:
    parts = []
    for parent in layout.order:
        for child, link in layout.children[parent]:
            if parent not in boxes or child not in boxes:
                continue
            px, py, pw, ph = boxes[parent]
            cx, cy, cw, ch = boxes[child]
            x1, y1, x2, y2 = px + pw / 2, py + ph, cx + cw / 2, cy
            if y2 <= y1:  # same row or above (only for untrusted cyclic data): to the side
                x2, y2 = (cx if cx > px else cx + cw), cy + ch / 2
            line = f'x1="{x1:.1f}" y1="{y1:.1f}" x2="{x2:.1f}" y2="{y2:.1f}"'
            if link:
                parts.append(f'<g class="graph-cut-link"><line {line} stroke="{CUT_COLOUR}" stroke-width="1.6" '
                             f'stroke-dasharray="5 4" marker-end="url(#{ident}-cut)"/>'
                             f'<text x="{(x1 + x2) / 2 + 6:.1f}" y="{(y1 + y2) / 2 + 5:.1f}" font-size="14" '
                             f'fill="{CUT_COLOUR}" font-family="{FONT}">{SCISSORS}</text></g>')
            else:
                grey = parent in layout.behind_cut or child in layout.behind_cut
                parts.append(f'<line {line} stroke="{GREY if grey else EDGE}" stroke-width="1.2" '
                             f'marker-end="url(#{ident}-{"grey" if grey else "arrow"})"/>')
    return parts


def _box_svg(layout: _Layout, node: int, box: Box) -> str:
    data = layout.by_id[node]
    x, y, w, h = box
    first, second = _box_lines(data)
    cut_line = _cut_line(layout, node)
    grey = node in layout.behind_cut or node in layout.loose
    fill = "#f7f7f8" if grey else FILL[data["kind"]]
    stroke = CUT_COLOUR if cut_line else (GREY if grey else STROKE[data["kind"]])
    dash = ' stroke-dasharray="4 3"' if cut_line or node in layout.loose else ""
    ink = "#6b7480" if grey else INK
    tip = node_text(data)
    if cut_line:
        tip += f" — {cut_line}"
    if node in layout.behind_cut:
        tip += " — backward() does not get here"
    centre = x + w / 2
    texts = (f'<text x="{centre:.1f}" y="{y + 16:.1f}" text-anchor="middle" font-size="12" font-weight="600" '
             f'font-family="{FONT}" fill="{ink}">{escape(_short(first))}</text>'
             f'<text x="{centre:.1f}" y="{y + 31:.1f}" text-anchor="middle" font-size="11" '
             f'font-family="{FONT}" fill="{ink}">{escape(_short(second))}</text>')
    if cut_line:
        texts += (f'<text x="{centre:.1f}" y="{y + 46:.1f}" text-anchor="middle" font-size="11" font-weight="600" '
                  f'font-family="{FONT}" fill="{CUT_COLOUR}">{escape(_short(cut_line))}</text>')
    return (f'<g class="graph-node graph-{data["kind"]}"><title>{escape(tip)}</title>'
            f'<rect x="{x:.1f}" y="{y:.1f}" width="{w:.1f}" height="{h}" rx="5" fill="{fill}" '
            f'stroke="{stroke}" stroke-width="{1.8 if cut_line else 1.1}"{dash}/>{texts}</g>')


def _summary(graph: dict[str, Any]) -> str:
    cuts = cut_list(graph)
    parts = [_headline(graph).rstrip(":"), f"{len(graph['nodes'])} nodes"]
    if cuts:
        parts.append("cut: " + "; ".join(f"{c['title']}" + (f" at {c['where']}" if c["where"] else "")
                                         for c in cuts))
    parts.append("reached: " + (", ".join(graph["reached"]) or "none"))
    if graph["unreached"]:
        parts.append("not reached: " + ", ".join(graph["unreached"]))
    return ". ".join(parts) + "."
