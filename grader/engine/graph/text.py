"""The graph as an indented text tree, for ``grader grade`` and the text report."""

from __future__ import annotations

from typing import Any

from .layout import CUT_TITLES, SCISSORS, Layout, cut_list, node_text, shape_text
from .schema import MAX_NODES


def render_text(graph: dict[str, Any]) -> str:
    """An indented tree from the root, one node per line; a node reached twice is printed once
    and referred to (``-> #3``); cuts are marked with ✂ and explained below the tree."""
    layout = Layout(graph)
    lines = [headline(graph)] + [note["text"] for note in cut_list(graph, notes=True)]
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


def headline(graph: dict[str, Any]) -> str:
    calls = graph["backward_calls"]
    if calls == 0:
        return "No backward() ran in this call; what the code computed:"
    shape = shape_text(graph["root"]["shape"])
    root = f"{graph['root']['label']} {shape}".rstrip()
    if calls == 1:
        return f"backward() from {root}:"
    return f"backward() from {root} (the last of {calls} backward() calls in this call):"


def _node_line(layout: Layout, node: int, shared: set[int]) -> str:
    text = node_text(layout.by_id[node])
    if node in shared:
        text += f"  [#{node}]"
    for kind in layout.cut_kinds.get(node, []):
        text += f"  {SCISSORS} {CUT_TITLES.get(kind, kind)}"
    return text


def _tree_lines(layout: Layout, top: int, shared: set[int], printed: set[int],
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

