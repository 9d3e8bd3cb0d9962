"""What the text and the SVG renderings share: who hangs below whom, and the text of a node
and of the cuts.

Both renderings take a ``locale``: their own words (cut titles, headings) are marked with
``N_`` and translated here; the labels and cut texts the probe wrote are recognised by their
templates (:func:`grader.i18n.localize.gettext`). Names, operator names and shapes stay."""

from __future__ import annotations

from typing import Any

from grader.i18n.locales import DEFAULT
from grader.i18n.localize import NO_ROOT, gettext, graph_label, render
from grader.i18n.text import N_, Text

CUT_TITLES = {
    "no-grad-fn": N_("no grad_fn"), "detach": N_("detached"), "no-grad": N_("under no_grad"),
    "new-leaf": N_("new leaf"), "unreached": N_("not reached"), "not-in-optimizer": N_("not in the optimizer"),
    "stale-in-optimizer": N_("stale optimizer"), "rebound": N_("rebound"), "no-backward": N_("no backward()"),
    "non-leaf-grad": N_(".grad of a non-leaf"),
}
SCISSORS = "✂"

NOTES = frozenset({"no-backward"})  # said about the whole call, not a break in the chain


def say(locale: str, msgid: str, **values: Any) -> str:
    """One of the renderers' own texts (marked with ``N_``) in ``locale``, filled with ``values``."""
    return render(Text(msgid, values), locale)


def cut_title(kind: str, locale: str = DEFAULT) -> str:
    return say(locale, CUT_TITLES[kind]) if kind in CUT_TITLES else kind


def root_label(graph: dict[str, Any], locale: str = DEFAULT) -> str:
    """The root's name (``loss``), or what the probe calls it when no backward() ran."""
    label = graph["root"]["label"]
    return say(locale, NO_ROOT) if label == NO_ROOT else label


def shape_text(shape: list[int] | None) -> str:
    """``(3, 1)``, ``(4,)``; nothing for a scalar or an unknown shape."""
    if not shape:
        return ""
    return "(" + ", ".join(str(s) for s in shape) + ("," if len(shape) == 1 else "") + ")"


def probe_text(text: str, locale: str = DEFAULT, label: bool = False) -> str:
    """A cut text or node label the probe wrote, in ``locale``. The probe writes English (ASCII
    but for names); a text that is not ASCII was translated already (a stored result is
    localised before it is drawn) and is not looked up a second time."""
    if locale == DEFAULT or not text or not text.isascii():
        return text
    return graph_label(locale, text) if label else gettext(locale, text)


def node_label(node: dict[str, Any], locale: str = DEFAULT) -> str:
    return probe_text(node["label"], locale, label=True)


def node_text(node: dict[str, Any], locale: str = DEFAULT) -> str:
    """``h = TanhBackward0 (2, 3)``, ``model.0.weight [parameter] (4, 3)``."""
    shape = shape_text(node["shape"])
    label = node_label(node, locale)
    if node["kind"] == "op":
        head = f"{node['name']} = {label}" if node["name"] else label
    else:
        head = f"{node['name']} [{label}]" if node["name"] else f"[{label}]"
    return f"{head} {shape}".rstrip()


def cut_list(graph: dict[str, Any], notes: bool = False, locale: str = DEFAULT) -> list[dict[str, str]]:
    """The cuts as text: ``{"kind", "title", "where", "text"}`` (``where`` names the node);
    with ``notes``, only the remarks about the whole call (no backward() at all) instead.
    Titles, labels and texts in ``locale``."""
    by_id = {n["id"]: n for n in graph["nodes"]}
    shown = []
    for cut in graph["cuts"]:
        if (cut["kind"] in NOTES) != notes:
            continue
        node = by_id.get(cut["node"]) if cut["node"] is not None else None
        where = ""
        if node is not None:
            where = node["name"] or node_label(node, locale)
        shown.append({"kind": cut["kind"], "title": cut_title(cut["kind"], locale),
                      "where": where, "text": probe_text(cut["text"], locale)})
    return shown


class Layout:
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

