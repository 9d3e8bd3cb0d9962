"""The graph as an inline SVG drawing, for the web page (deterministic, every label escaped)."""

from __future__ import annotations

import math
import re
import unicodedata
from html import escape
from typing import Any

from grader.i18n.locales import DEFAULT
from grader.i18n.localize import render
from grader.i18n.text import N_, TN

from .layout import SCISSORS, Layout, cut_list, cut_title, node_label, node_text, root_label, say, shape_text
from .text import headline

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


def render_svg(graph: dict[str, Any], title: str = N_("Autograd graph"), ident: str = "graph",
               locale: str = DEFAULT) -> str:
    """A layered drawing: the root on top, each row one step further from it; boxes with the
    node's name and grad_fn, arrows the way backward() goes, cut links red and dashed, nodes
    with a cut outlined red and labelled, what backward() does not get to greyed. Deterministic,
    every label escaped, no external dependency. ``ident`` makes the element ids unique on a
    page (two graphs side by side). Texts in ``locale`` (``title`` is looked up, so the caller
    may pass it translated already)."""
    ident = re.sub(r"[^A-Za-z0-9_-]", "-", ident)[:60] or "graph"
    layout = Layout(graph)
    rows = _rows(layout)
    boxes = _place(layout, rows, locale)
    width = max([MARGIN * 2 + 240] + [x + w + MARGIN for x, _, w, _ in boxes.values()])
    height = max([MARGIN * 2 + BOX_HEIGHT] + [y + h + MARGIN for _, y, _, h in boxes.values()])
    width, height = int(math.ceil(width)), int(math.ceil(height))
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="graph-svg" role="img" viewBox="0 0 {width} {height}" '
        f'width="{width}" height="{height}" aria-labelledby="{ident}-title {ident}-desc">',
        f'<title id="{ident}-title">{escape(say(locale, title))}</title>',
        f'<desc id="{ident}-desc">{escape(_summary(graph, locale))}</desc>',
        "<defs>" + _marker(f"{ident}-arrow", EDGE) + _marker(f"{ident}-grey", GREY)
        + _marker(f"{ident}-cut", CUT_COLOUR) + "</defs>",
    ]
    parts += _edges_svg(layout, boxes, ident)
    loose = [boxes[i] for i in layout.loose if i in boxes]
    if loose:
        caption = say(locale, N_("not connected to {root}:"), root=root_label(graph, locale))
        parts.append(f'<text x="{MARGIN}" y="{min(b[1] for b in loose) - 7:.1f}" font-size="11" fill="#6b7480" '
                     f'font-family="{FONT}">{escape(caption)}</text>')
    parts += [_box_svg(layout, node, boxes[node], locale) for node in layout.order if node in boxes]
    if not boxes:
        parts.append(f'<text x="{MARGIN}" y="{MARGIN + 24}" font-size="12" fill="{INK}" '
                     f'font-family="{FONT}">{escape(_nothing(graph, locale))}</text>')
    parts.append("</svg>")
    return "".join(parts)


def _nothing(graph: dict[str, Any], locale: str) -> str:
    """The headline of a graph with no node, as one sentence."""
    calls = graph["backward_calls"]
    if calls == 0:
        return say(locale, N_("No backward() ran in this call; what the code computed: nothing."))
    root = f"{root_label(graph, locale)} {shape_text(graph['root']['shape'])}".rstrip()
    if calls == 1:
        return say(locale, N_("backward() from {root}: nothing."), root=root)
    return render(TN("backward() from {root} (the last of {n} backward() calls in this call): nothing.",
                     "backward() from {root} (the last of {n} backward() calls in this call): nothing.",
                     calls, root=root), locale)


def _marker(ident: str, colour: str) -> str:
    return (f'<marker id="{ident}" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" '
            f'orient="auto-start-reverse"><path d="M0,0L10,5L0,10z" fill="{colour}"/></marker>')


def _rows(layout: Layout) -> list[list[int]]:
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


def _order_rows(layout: Layout, rows: list[list[int]]) -> list[list[int]]:
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


def _box_lines(node: dict[str, Any], locale: str = DEFAULT) -> tuple[str, str]:
    shape = shape_text(node["shape"])
    label = node_label(node, locale)
    if node["name"]:
        return node["name"], f"{label} {shape}".rstrip()
    return label, shape


def _cut_line(layout: Layout, node: int, locale: str = DEFAULT) -> str:
    kinds = layout.all_kinds.get(node, [])
    return f"{SCISSORS} " + ", ".join(dict.fromkeys(cut_title(k, locale) for k in kinds)) if kinds else ""


def _char_width(char: str) -> int:
    """Columns of a character in a monospace font: CJK ideographs and full-width forms take two."""
    return 2 if unicodedata.east_asian_width(char) in ("W", "F") else 1


def _columns(text: str) -> int:
    return sum(_char_width(c) for c in text)


def _short(text: str, limit: int = BOX_CHARS) -> str:
    """At most ``limit`` columns (a Chinese character counts as two)."""
    if _columns(text) <= limit:
        return text
    kept, used = [], 0
    for char in text:
        if used + _char_width(char) > limit - 1:
            break
        kept.append(char)
        used += _char_width(char)
    return "".join(kept) + "…"


def _box_size(layout: Layout, node: int, locale: str = DEFAULT) -> tuple[float, float]:
    lines = [*_box_lines(layout.by_id[node], locale), _cut_line(layout, node, locale)]
    chars = max(_columns(_short(line)) for line in lines)
    height = BOX_HEIGHT + (CUT_LINE if lines[2] else 0)
    return max(MIN_BOX, chars * CHAR_WIDTH + 16), height


def _place(layout: Layout, rows: list[list[int]], locale: str = DEFAULT) -> dict[int, Box]:
    """Every box: rows centred on the widest one, each row as tall as its tallest box."""
    sizes = {i: _box_size(layout, i, locale) for row in rows for i in row}
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


def _edges_svg(layout: Layout, boxes: dict[int, Box], ident: str) -> list[str]:
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


def _box_svg(layout: Layout, node: int, box: Box, locale: str = DEFAULT) -> str:
    data = layout.by_id[node]
    x, y, w, h = box
    first, second = _box_lines(data, locale)
    cut_line = _cut_line(layout, node, locale)
    grey = node in layout.behind_cut or node in layout.loose
    fill = "#f7f7f8" if grey else FILL[data["kind"]]
    stroke = CUT_COLOUR if cut_line else (GREY if grey else STROKE[data["kind"]])
    dash = ' stroke-dasharray="4 3"' if cut_line or node in layout.loose else ""
    ink = "#6b7480" if grey else INK
    tip = node_text(data, locale)
    if cut_line:
        tip += f" — {cut_line}"
    if node in layout.behind_cut:
        tip += " — " + say(locale, N_("backward() does not get here"))
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


def _summary(graph: dict[str, Any], locale: str = DEFAULT) -> str:
    cuts = cut_list(graph, locale=locale)
    count = len(graph["nodes"])
    parts = [headline(graph, locale).rstrip(":："), render(TN("{n} node", "{n} nodes", count), locale)]
    if cuts:
        at = say(locale, N_("at"))
        parts.append(say(locale, N_("cut")) + ": "
                     + "; ".join(f"{c['title']}" + (f" {at} {c['where']}" if c["where"] else "") for c in cuts))
    parts.append(say(locale, N_("reached")) + ": " + (", ".join(graph["reached"]) or say(locale, N_("none"))))
    if graph["unreached"]:
        parts.append(say(locale, N_("not reached")) + ": " + ", ".join(graph["unreached"]))
    return ". ".join(parts) + "."
