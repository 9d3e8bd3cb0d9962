"""The recorder's report: a snapshot turned into plain data, nodes named, cuts explained.

Parameters are named ``model.<named_parameters name>`` (the outermost modules the code used),
the call's tensors by their path in its arguments (``w0``, ``params[1]``), other leaves by the
student's local names. Every cut gets a text saying what happened and why it matters. The
schema, and its validation on the trusted side, are in :mod:`grader.engine.graph`.

Only plain English strings leave the sandbox. Every cut text and node label is one whole
sentence (or phrase) template, marked with :func:`N_` and filled here; the trusted side
recognises the rendered text by its template and shows it in the student's language
(``grader.i18n.localize``). A variant of a sentence is a template of its own, never a fragment.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .snapshot import Candidate, Node, Snapshot
from .tables import MAX_CUTS, MAX_LABEL, MAX_NAMES, MAX_NODES, MAX_TEXT
from .tensors import fn_shape, optimizer_tensors, requires_grad, shape_of

if TYPE_CHECKING:
    from .recorder import GraphRecorder


def N_(template: str) -> str:  # noqa: N802 - the gettext marker (as in grader.sandbox.driver_kit)
    """Mark a sentence template for extraction: ``N_("{name} has ...").format(name=name)``."""
    return template


class ReportBuilder:
    """Turns a snapshot into the plain-data report, naming nodes and adding the cuts."""

    def __init__(self, recorder: GraphRecorder, snap: Snapshot):
        self.recorder, self.snap = recorder, snap
        self.params = recorder.param_names()
        self.param_of = {id(t): name for name, t in self.params}
        self.arg_of = {id(t): name for name, t in recorder.arg_names}
        self.cuts: list[dict[str, Any]] = []
        self.cut_below: set[int] = set()

    def build(self) -> dict[str, Any]:
        snap, recorder = self.snap, self.recorder
        nodes = [self._plain_node(i, node) for i, node in enumerate(snap.nodes)]
        reached_ids = self._reached()
        reached = [n["name"] for n in nodes if n["id"] in reached_ids and n["kind"] != "op" and n["name"]
                   and snap.nodes[n["id"]].kind == "leaf"]
        self.cut_below = self._below_cuts()
        self._cut_root(nodes)
        self._cut_links(nodes)
        self._cut_rebound(nodes)
        self._cut_non_leaf_reads(nodes)
        unreached = self._unreached(nodes, reached_ids)
        self._cut_new_leaves(nodes, reached_ids, unreached)
        self._cut_optimizers(nodes, reached_ids)
        if recorder.backward_calls == 0:
            self._cut(None, "no-backward", None,
                      N_("No backward() or torch.autograd.grad() ran during this call. Shown: the "
                         "results your code computed with autograd recording, and the tensors it "
                         "updated in place under torch.no_grad()."))
        info = recorder.root_info
        root = {"label": _cap(info["label"] if info else N_("no backward() call"), MAX_LABEL),
                "node": snap.root, "requires_grad": bool(info["requires_grad"]) if info else False,
                "shape": info["shape"] if info else None}
        return {"root": root, "backward_calls": int(recorder.backward_calls), "nodes": nodes,
                "edges": [[a, b] for a, b in snap.edges], "cuts": self.cuts[:MAX_CUTS],
                "reached": [_cap(n, MAX_LABEL) for n in reached][:MAX_NAMES],
                "unreached": [_cap(n, MAX_LABEL) for n in unreached][:MAX_NAMES],
                "truncated": bool(snap.truncated)}

    # -------------------------------------------------------------- nodes
    def _plain_node(self, index: int, node: Node) -> dict[str, Any]:
        kind, name, label, shape = "op", None, "", None
        if node.kind == "fn":
            label = type(node.obj).__name__
            entry = self.snap.fn_names.get(id(node.obj))
            name = entry[1] if entry is not None and entry[0] is node.obj else None
            shape = fn_shape(node.obj)
        elif node.kind == "leaf":
            kind, name, label = self._leaf_identity(node.obj)
            shape = shape_of(node.obj)
        elif node.kind == "root":
            kind, name, label = "leaf", (self.recorder.root_info or {}).get("label"), N_("no grad_fn")
            if requires_grad(node.obj):
                made = self.recorder.maker_of(node.obj) is not None
                label = N_("leaf by requires_grad_(), no grad_fn") if made else N_("leaf, no grad_fn")
            else:
                label = N_("no grad_fn, no requires_grad")
            shape = shape_of(node.obj)
        elif node.kind == "cut":
            label = N_("{what}() under torch.no_grad()").format(what=node.obj.what)
            shape = node.obj.shape
        elif node.kind == "update":
            label = N_("{what}() in place, under torch.no_grad()").format(what=node.obj.what)
            shape = node.obj.shape
        node.label, node.name = label, name
        return _node_data(index, kind, name, label, shape)

    def _leaf_identity(self, tensor: Any) -> tuple[str, str | None, str]:
        if id(tensor) in self.param_of:
            return "param", self.param_of[id(tensor)], N_("parameter")
        if id(tensor) in self.arg_of:
            return "input", self.arg_of[id(tensor)], N_("input")
        name = self.recorder.local_leaf_name(tensor)
        maker = self.recorder.maker_of(tensor)
        if maker is None:
            label = N_("leaf")
        elif maker and maker != "<module>":
            label = N_("leaf made in {function}()").format(function=maker)
        else:
            label = N_("leaf made by the code")
        return "leaf", name, label

    def _add_node(self, nodes: list, kind: str, name: str | None, label: str,
                  shape: list[int] | None) -> int | None:
        if len(nodes) >= MAX_NODES:
            self.snap.truncated = True
            return None
        nodes.append(_node_data(len(nodes), kind, name, label, shape))
        return len(nodes) - 1

    # -------------------------------------------------------------- reachability
    def _tops(self) -> list[int]:
        return ([self.snap.root] if self.snap.root is not None else []) + list(self.snap.roots)

    def _reached(self) -> set[int]:
        return _below(self.snap.edges, self._tops())

    def _below_cuts(self) -> set[int]:
        return _below(self.snap.edges, [node for _, node, _ in self.snap.cut_links])

    # -------------------------------------------------------------- cuts
    def _cut(self, node: int | None, kind: str, parent: int | None, text: str) -> None:
        if len(self.cuts) < MAX_CUTS:
            self.cuts.append({"kind": kind, "node": node, "parent": parent, "text": _cap(text, MAX_TEXT)})

    def _cut_root(self, nodes: list) -> None:
        snap, info = self.snap, self.recorder.root_info
        if info is None or snap.root is None or snap.nodes[snap.root].kind != "root":
            return
        name = info["label"]
        if info["requires_grad"]:
            text = N_("{name} has no grad_fn: it was not computed from anything that requires grad, "
                      "and requires_grad_() only made it a new leaf, so backward() stops at "
                      "{name} itself and reaches no parameter.").format(name=name)
        else:
            text = N_("{name} has no grad_fn and does not require grad: it was not computed from "
                      "anything that requires grad, so backward() has no graph to go through "
                      "(it raises).").format(name=name)
        self._cut(snap.root, "no-grad-fn", None, text)

    def _cut_links(self, nodes: list) -> None:
        for parent, node, candidate in self.snap.cut_links:
            self._cut(node, candidate.kind, parent, self._link_text(nodes[node], candidate))

    def _link_text(self, node: dict[str, Any], candidate: Candidate) -> str:
        name = candidate.name
        if candidate.kind == "detach":
            call = ".data" if candidate.what == ".data" else f".{candidate.what}()"
            fields = {"name": name, "call": call, "shape": _shape_text(candidate.shape),
                      "node": node.get("name") or node["label"], "label": node["label"]}
            if name and node.get("name"):
                template = N_("{name} is {call} of {node} ({label}), shape {shape}: it has no grad_fn, so "
                              "backward() does not go below it and nothing under it gets a gradient.")
            elif name:
                template = N_("{name} is {call} of {node}, shape {shape}: it has no grad_fn, so backward() "
                              "does not go below it and nothing under it gets a gradient.")
            elif node.get("name"):
                template = N_("{call} of {node} ({label}), shape {shape}, cuts the graph here: the result has "
                              "no grad_fn, so backward() does not go below it and nothing under it gets a "
                              "gradient.")
            else:
                template = N_("{call} of {node}, shape {shape}, cuts the graph here: the result has no "
                              "grad_fn, so backward() does not go below it and nothing under it gets a "
                              "gradient.")
            return template.format(**fields)
        if candidate.kind == "rebound":
            return N_("A new tensor computed from the leaf {leaf} and its .grad under torch.no_grad() "
                      "(the `w = w - lr * w.grad` pattern): it does not require grad, the leaf itself "
                      "is not updated, and what is computed from the new tensor is connected to no "
                      "parameter.").format(leaf=self._leaf_name(candidate.leaf))
        if name:
            return N_("{name} was computed by {what}() under torch.no_grad() from tensors that require "
                      "grad: it has no grad_fn, so backward() stops there and what it was computed from "
                      "gets no gradient.").format(name=name, what=candidate.what)
        return N_("The result of {what}() under torch.no_grad() from tensors that require grad: it has "
                  "no grad_fn, so backward() stops there and what it was computed from gets no "
                  "gradient.").format(what=candidate.what)

    def _cut_rebound(self, nodes: list) -> None:
        for op_node, leaf in self.snap.rebound:
            leaf_node = self.snap.index.get(id(leaf))
            if leaf_node is None:
                continue
            leaf = nodes[leaf_node]["name"]
            op = nodes[op_node]
            fields = {"name": op["name"], "label": op["label"], "leaf": leaf}
            if op["name"] and op["name"] == leaf:
                template = N_("{name} is now a new tensor ({label}) computed from the earlier leaf {name} "
                              "and its .grad (the `w = w - lr * w.grad` pattern): the leaf itself is never "
                              "updated, and the new tensor is not a leaf, so backward() leaves its .grad None.")
            elif op["name"] and leaf:
                template = N_("{name} ({label}) is a new tensor computed from the leaf {leaf} and its .grad "
                              "(the `w = w - lr * w.grad` pattern): the leaf itself is never updated, and the "
                              "new tensor is not a leaf, so backward() leaves its .grad None.")
            elif op["name"]:
                template = N_("{name} ({label}) is a new tensor computed from a leaf and its .grad (the "
                              "`w = w - lr * w.grad` pattern): the leaf itself is never updated, and the new "
                              "tensor is not a leaf, so backward() leaves its .grad None.")
            elif leaf:
                template = N_("{label} is a new tensor computed from the leaf {leaf} and its .grad (the "
                              "`w = w - lr * w.grad` pattern): the leaf itself is never updated, and the new "
                              "tensor is not a leaf, so backward() leaves its .grad None.")
            else:
                template = N_("{label} is a new tensor computed from a leaf and its .grad (the "
                              "`w = w - lr * w.grad` pattern): the leaf itself is never updated, and the new "
                              "tensor is not a leaf, so backward() leaves its .grad None.")
            self._cut(leaf_node, "rebound", op_node, template.format(**fields))

    def _cut_non_leaf_reads(self, nodes: list) -> None:
        done: set[int] = set()
        for fn, name in self.recorder._non_leaf_reads:
            node = self.snap.index.get(id(fn))
            if node is None or node in done:
                continue
            done.add(node)
            label = name or nodes[node]["name"]
            fn = nodes[node]["label"]
            if label:
                text = N_("{name}.grad was read, but {name} is not a leaf ({fn}): backward() fills .grad "
                          "only for leaves. Call {name}.retain_grad() before backward(), or use "
                          "torch.autograd.grad.").format(name=label, fn=fn)
            else:
                text = N_("The .grad of a tensor that is not a leaf ({fn}) was read: backward() fills "
                          ".grad only for leaves. Call retain_grad() on it before backward(), or use "
                          "torch.autograd.grad.").format(fn=fn)
            self._cut(node, "non-leaf-grad", None, text)

    def _unreached(self, nodes: list, reached_ids: set[int]) -> list[str]:
        reached_tensors = {id(self.snap.nodes[i].obj) for i in reached_ids if i < len(self.snap.nodes)}
        candidates = list(self.params) + [(n, t) for n, t in self.recorder.arg_names if requires_grad(t)]
        unreached: list[str] = []
        for name, tensor in candidates:
            if id(tensor) in reached_tensors or name in unreached:
                continue
            unreached.append(name)
            node = self.snap.index.get(id(tensor))
            if node is not None and node in self.cut_below:
                continue  # already shown below a cut, which explains it
            if node is None:
                kind = "param" if id(tensor) in self.param_of else "input"
                node = self._add_node(nodes, kind, name, N_("parameter") if kind == "param" else N_("input"),
                                      shape_of(tensor))
                if node is None:
                    continue
                self.snap.index[id(tensor)] = node
            if self.snap.root is not None or self.snap.roots:
                if self.recorder.root_info:
                    text = N_("{name} is not reached from {root}: backward() gives it no gradient, so an "
                              "update leaves it as it is.").format(name=name, root=self._root_name())
                else:
                    text = N_("{name} is not reached from the results: backward() gives it no gradient, so "
                              "an update leaves it as it is.").format(name=name)
                self._cut(node, "unreached", None, text)
        return unreached

    def _cut_new_leaves(self, nodes: list, reached_ids: set[int], unreached: list[str]) -> None:
        if not unreached:
            return
        shown = 0
        for index in sorted(reached_ids):
            if index >= len(self.snap.nodes) or nodes[index]["kind"] != "leaf":
                continue
            if self.snap.nodes[index].kind != "leaf" or shown >= 4:
                continue
            shown += 1
            missed = ", ".join(unreached[:3]) + (" ..." if len(unreached) > 3 else "")
            if nodes[index]["name"]:
                text = N_("{name} is a new leaf (a tensor made with requires_grad that is not one of the "
                          "parameters): the loss reaches it instead of {missed}, which get no gradient."
                          ).format(name=nodes[index]["name"], missed=missed)
            else:
                text = N_("this leaf is a new leaf (a tensor made with requires_grad that is not one of the "
                          "parameters): the loss reaches it instead of {missed}, which get no gradient."
                          ).format(missed=missed)
            self._cut(index, "new-leaf", None, text)

    def _cut_optimizers(self, nodes: list, reached_ids: set[int]) -> None:
        optimizers = self.recorder.optimizers
        if not optimizers:
            return
        held: dict[int, Any] = {}
        for optimizer in optimizers:
            for tensor in optimizer_tensors(optimizer):
                held.setdefault(id(tensor), tensor)
        for index in sorted(reached_ids):
            if index < len(self.snap.nodes) and nodes[index]["kind"] == "param":
                if id(self.snap.nodes[index].obj) not in held:
                    self._cut(index, "not-in-optimizer", None,
                              N_("{name} gets a gradient from the loss, but no optimizer holds it: "
                                 "optimizer.step() never updates it.").format(name=nodes[index]["name"]))
        used = {id(t) for _, t in self.params} | {id(self.snap.nodes[i].obj) for i in reached_ids
                                                    if i < len(self.snap.nodes)}
        for optimizer in optimizers:
            stale = [t for t in optimizer_tensors(optimizer) if id(t) not in used]
            if not stale:
                continue
            kind = type(optimizer).__name__
            shapes = ", ".join(_shape_text(shape_of(t)) for t in stale[:3]) + (" ..." if len(stale) > 3 else "")
            if len(stale) == 1:
                label = N_("1 tensor it holds, unused by the loss")
                text = N_("The {kind} optimizer holds 1 tensor ({shapes}) that are not parameters of the "
                          "model your loss uses: it was created for other tensors (an earlier model?), so "
                          "step() updates those, not the model you train.").format(kind=kind, shapes=shapes)
            else:
                label = N_("{n} tensors it holds, unused by the loss").format(n=len(stale))
                text = N_("The {kind} optimizer holds {n} tensors ({shapes}) that are not parameters of the "
                          "model your loss uses: it was created for other tensors (an earlier model?), so "
                          "step() updates those, not the model you train.").format(kind=kind, n=len(stale),
                                                                                   shapes=shapes)
            node = self._add_node(nodes, "param", kind, label, None)
            self._cut(node, "stale-in-optimizer", None, text)

    def _root_name(self) -> str:
        info = self.recorder.root_info
        return info["label"] if info else N_("the results")

    def _leaf_name(self, tensor: Any) -> str:
        if tensor is None:
            return "w"  # the pattern's own name
        return (self.param_of.get(id(tensor)) or self.arg_of.get(id(tensor))
                or self.recorder.local_leaf_name(tensor) or "w")


def _node_data(index: int, kind: str, name: str | None, label: str,
                shape: list[int] | None) -> dict[str, Any]:
    return {"id": index, "kind": kind, "label": _cap(label, MAX_LABEL),
            "name": _cap(name, MAX_LABEL) if name else None, "shape": shape}


def _below(edges: list[tuple[int, int]], starts: list[int]) -> set[int]:
    """The nodes reachable from ``starts`` (included) along ``edges``."""
    children: dict[int, list[int]] = {}
    for a, b in edges:
        children.setdefault(a, []).append(b)
    seen: set[int] = set()
    stack = list(starts)
    while stack:
        node = stack.pop()
        if node not in seen:
            seen.add(node)
            stack += children.get(node, [])
    return seen


def _shape_text(shape: list[int] | None) -> str:
    if shape is None:
        return "?"
    return "(" + ", ".join(str(s) for s in shape) + ("," if len(shape) == 1 else "") + ")"


def _cap(text: Any, limit: int) -> str:
    """At most ``limit`` characters, printable ones only (a class name can hold anything)."""
    text = str(text)[:limit + 1]
    if not text.isprintable():
        text = "".join(c if c.isprintable() else "?" for c in text)
    return text if len(text) <= limit else text[:limit - 1] + "…"


