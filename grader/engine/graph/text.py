"""The graph as an indented text tree, for ``grader grade`` and the text report."""

from __future__ import annotations

from typing import Any

from grader.i18n.locales import DEFAULT
from grader.i18n.localize import render
from grader.i18n.text import N_, TN

from .layout import SCISSORS, Layout, cut_list, cut_title, node_text, root_label, say, shape_text
from .schema import MAX_NODES


def render_text(graph: dict[str, Any], locale: str = DEFAULT) -> str:
    """An indented tree from the root, one node per line; a node reached twice is printed once
    and referred to (``-> #3``); cuts are marked with ✂ and explained below the tree. Headings,
    titles and the probe's labels and texts in ``locale``."""
    layout = Layout(graph)
    lines = [headline(graph, locale)] + [note["text"] for note in cut_list(graph, notes=True, locale=locale)]
    shared = {i for i in layout.order if len(layout.parents[i]) + (i in layout.tops) > 1}
    printed: set[int] = set()
    root = graph["root"]["node"]
    for number, top in enumerate(layout.tops):
        if root is not None and number == 1:  # trees beside the root's: computed, never used
            lines.append(say(locale, N_("Also computed with autograd recording, but used by no backward():")))
        _tree_lines(layout, top, shared, printed, lines, locale)
    if layout.loose:
        lines.append(say(locale, N_("Not connected to the graph:")))
        for node in layout.loose:
            lines.append("  " + _node_line(layout, node, shared, locale))
    cuts = cut_list(graph, locale=locale)
    if cuts:
        lines.append(say(locale, N_("Where the chain breaks:")))
        at = say(locale, N_("at"))
        for cut in cuts:
            where = f" {at} {cut['where']}" if cut["where"] else ""
            lines.append(f"  {SCISSORS} {cut['title']}{where}: {cut['text']}")
    reached = ", ".join(graph["reached"]) or say(locale, N_("none"))
    if graph["backward_calls"]:
        lines.append(say(locale, N_("Reached by backward(): {names}"), names=reached))
    else:
        lines.append(say(locale, N_("Leaves in the graph: {names}"), names=reached))
    if graph["unreached"]:
        lines.append(say(locale, N_("Not reached: {names}"), names=", ".join(graph["unreached"])))
    if graph["truncated"]:
        lines.append(say(locale, N_("(the graph was cut short at {n} nodes)"), n=MAX_NODES))
    return "\n".join(lines)


def headline(graph: dict[str, Any], locale: str = DEFAULT) -> str:
    calls = graph["backward_calls"]
    if calls == 0:
        return say(locale, N_("No backward() ran in this call; what the code computed:"))
    shape = shape_text(graph["root"]["shape"])
    root = f"{root_label(graph, locale)} {shape}".rstrip()
    if calls == 1:
        return say(locale, N_("backward() from {root}:"), root=root)
    return render(TN("backward() from {root} (the last of {n} backward() calls in this call):",
                     "backward() from {root} (the last of {n} backward() calls in this call):", calls, root=root),
                  locale)


def _node_line(layout: Layout, node: int, shared: set[int], locale: str = DEFAULT) -> str:
    text = node_text(layout.by_id[node], locale)
    if node in shared:
        text += f"  [#{node}]"
    for kind in layout.cut_kinds.get(node, []):
        text += f"  {SCISSORS} {cut_title(kind, locale)}"
    return text


def _tree_lines(layout: Layout, top: int, shared: set[int], printed: set[int],
                lines: list[str], locale: str = DEFAULT) -> None:
    """Depth-first, iteratively (a 200-node chain must not hit the recursion limit)."""
    stack: list[tuple[int, str, str, bool, int | None]] = [(top, "", "", True, None)]
    above = say(locale, N_("(above)"))
    while stack:
        node, prefix, connector, last, parent = stack.pop()
        kind = layout.link_kind.get((parent, node)) if parent is not None else None
        marker = f"{SCISSORS} {cut_title(kind, locale)}: " if kind else ""
        if node in printed:
            lines.append(f"{prefix}{connector}{marker}-> #{node} {above}")
            continue
        printed.add(node)
        lines.append(f"{prefix}{connector}{marker}{_node_line(layout, node, shared, locale)}")
        below = prefix + ("" if not connector else ("   " if last else "│  "))
        children = layout.children[node]
        entries = [(child, below, "└─ " if i == len(children) - 1 else "├─ ", i == len(children) - 1, node)
                   for i, (child, _) in enumerate(children)]
        stack.extend(reversed(entries))


def render_pair_text(pair: dict[str, Any] | None, locale: str = DEFAULT) -> str:
    """"Your graph:" then "Expected graph:", each tree indented under its title."""
    if not pair or not isinstance(pair, dict):
        return ""
    parts = []
    for key, title in (("student", N_("Your graph")), ("expected", N_("Expected graph (the reference solution)"))):
        graph = pair.get(key)
        parts.append(f"{say(locale, title)}:")
        if graph is None:
            parts.append("  " + say(locale, N_("(not available)")))
        else:
            parts += ["  " + line for line in render_text(graph, locale).splitlines()]
    return "\n".join(parts)
