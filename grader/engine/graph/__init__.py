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

Modules: :mod:`.schema` (the caps and :func:`validate`), :mod:`.layout` (what both renderings
share), :mod:`.text` (:func:`render_text`, :func:`render_pair_text`), :mod:`.svg`
(:func:`render_svg`).
"""

from .layout import CUT_TITLES, NOTES, SCISSORS, cut_list, node_text
from .schema import (CUT_KINDS, MAX_BACKWARD_CALLS, MAX_CUTS, MAX_DIM, MAX_DIMS, MAX_EDGES, MAX_LABEL,
                     MAX_NAMES, MAX_NODES, MAX_TEXT, NODE_KINDS, validate)
from .svg import CUT_COLOUR, render_svg
from .text import render_pair_text, render_text

__all__ = [
    "CUT_COLOUR", "CUT_KINDS", "CUT_TITLES", "MAX_BACKWARD_CALLS", "MAX_CUTS", "MAX_DIM", "MAX_DIMS",
    "MAX_EDGES", "MAX_LABEL", "MAX_NAMES", "MAX_NODES", "MAX_TEXT", "NODE_KINDS", "NOTES", "SCISSORS",
    "cut_list", "node_text", "render_pair_text", "render_svg", "render_text", "validate",
]
