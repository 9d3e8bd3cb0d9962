"""grader.engine.graph: strict validation of a reported graph, and its text and SVG renderings
(in ``grader grade`` output and on the feedback page)."""

from __future__ import annotations

import copy
import re
from pathlib import Path

import pytest

from grader.engine import graph as graphs
from grader.engine.report import format_grade
from grader.engine.results import CheckResult, GradeResult, Verdict

TEMPLATES = Path(__file__).resolve().parents[2] / "grader" / "web" / "templates"


def detached_graph() -> dict:
    """What the probe reports for ``loss = mse(model(x).detach(), y); loss.requires_grad_()``."""
    return {
        "root": {"label": "loss", "node": 0, "requires_grad": True, "shape": []},
        "backward_calls": 1,
        "nodes": [
            {"id": 0, "kind": "leaf", "label": "leaf, no grad_fn", "name": "loss", "shape": []},
            {"id": 1, "kind": "op", "label": "AddmmBackward0", "name": None, "shape": [4, 1]},
            {"id": 2, "kind": "param", "label": "parameter", "name": "model.0.bias", "shape": [1]},
            {"id": 3, "kind": "op", "label": "TBackward0", "name": None, "shape": [3, 1]},
            {"id": 4, "kind": "param", "label": "parameter", "name": "model.0.weight", "shape": [1, 3]},
            {"id": 5, "kind": "param", "label": "parameter", "name": "model.2.weight", "shape": [1, 1]},
        ],
        "edges": [[1, 2], [1, 3], [3, 4]],
        "cuts": [
            {"kind": "no-grad-fn", "node": 0, "parent": None, "text": "loss has no grad_fn."},
            {"kind": "detach", "node": 1, "parent": 0, "text": "pred is .detach() of AddmmBackward0."},
            {"kind": "unreached", "node": 5, "parent": None, "text": "model.2.weight is not reached."},
        ],
        "reached": [],
        "unreached": ["model.0.weight", "model.0.bias", "model.2.weight"],
        "truncated": False,
    }


def diamond_graph() -> dict:
    """``z = (x * 2) + (x * 3)`` summed: the leaf x is reached along two paths."""
    return {
        "root": {"label": "z", "node": 0, "requires_grad": True, "shape": []},
        "backward_calls": 2,
        "nodes": [
            {"id": 0, "kind": "op", "label": "SumBackward0", "name": "z", "shape": []},
            {"id": 1, "kind": "op", "label": "AddBackward0", "name": None, "shape": [3]},
            {"id": 2, "kind": "op", "label": "MulBackward0", "name": "a", "shape": [3]},
            {"id": 3, "kind": "op", "label": "MulBackward0", "name": None, "shape": [3]},
            {"id": 4, "kind": "input", "label": "input", "name": "x", "shape": [3]},
        ],
        "edges": [[0, 1], [1, 2], [1, 3], [2, 4], [3, 4]],
        "cuts": [],
        "reached": ["x"],
        "unreached": [],
        "truncated": False,
    }


# ----------------------------------------------------------------------------- validation
def test_a_valid_graph_round_trips_as_a_fresh_copy():
    data = detached_graph()
    checked = graphs.validate(data)
    assert checked == data and checked is not data and checked["nodes"][0] is not data["nodes"][0]
    assert graphs.validate(checked) == checked
    data["nodes"][0]["label"] = "changed"
    assert checked["nodes"][0]["label"] == "leaf, no grad_fn"


def _broken(change) -> dict:
    data = detached_graph()
    change(data)
    return data


def _set(path, value):
    def change(data):
        target = data
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = value
    return change


MALFORMED = {
    "not a dict": lambda d: d.clear(),
    "extra key": _set(["extra"], 1),
    "missing key": lambda d: d.pop("truncated"),
    "node with an extra key": _set(["nodes", 0, "colour"], "red"),
    "bool as an id": _set(["nodes", 1, "id"], True),
    "float as an id": _set(["nodes", 1, "id"], 1.0),
    "duplicate ids": _set(["nodes", 2, "id"], 1),
    "unknown node kind": _set(["nodes", 1, "kind"], "module"),
    "edge to a missing node": _set(["edges", 0], [1, 99]),
    "edge of three ends": _set(["edges", 0], [1, 2, 3]),
    "self loop": _set(["edges", 0], [1, 1]),
    "duplicate edge": lambda d: d["edges"].append([1, 2]),
    "cut at a missing node": _set(["cuts", 0, "node"], 42),
    "unknown cut kind": _set(["cuts", 0, "kind"], "evil"),
    "root at a missing node": _set(["root", "node"], 7),
    "label too long": _set(["nodes", 1, "label"], "x" * (graphs.MAX_LABEL + 1)),
    "text too long": _set(["cuts", 0, "text"], "x" * (graphs.MAX_TEXT + 1)),
    "control character": _set(["nodes", 1, "name"], "h\x1b[31m"),
    "lone surrogate": _set(["nodes", 1, "name"], "h\ud800"),
    "negative dimension": _set(["nodes", 1, "shape"], [-1]),
    "too many dimensions": _set(["nodes", 1, "shape"], [1] * 9),
    "string backward count": _set(["backward_calls"], "1"),
    "int as truncated": _set(["truncated"], 0),
    "too many nodes": lambda d: d.update(nodes=[{"id": i, "kind": "op", "label": "Op", "name": None, "shape": None}
                                                 for i in range(graphs.MAX_NODES + 1)], edges=[], cuts=[],
                                          root={**d["root"], "node": None}),
    "too many edges": _set(["edges"], [[1, 2]] * (graphs.MAX_EDGES + 1)),
    "name that is not a string": _set(["reached"], [3]),
}


@pytest.mark.parametrize("case", sorted(MALFORMED))
def test_a_malformed_graph_is_refused(case):
    assert graphs.validate(_broken(MALFORMED[case])) is None


@pytest.mark.parametrize("garbage", [None, 3, "graph", [], {"root": None}, {1: 2}, object()])
def test_validation_never_raises(garbage):
    assert graphs.validate(garbage) is None


# ----------------------------------------------------------------------------- text
def test_the_text_tree_shows_the_root_the_cuts_and_what_is_not_reached():
    text = graphs.render_text(detached_graph())
    lines = text.splitlines()
    assert lines[0] == "backward() from loss:"
    assert lines[1].startswith("loss [leaf, no grad_fn]") and "✂ no grad_fn" in lines[1]
    assert lines[2] == "└─ ✂ detached: AddmmBackward0 (4, 1)"
    assert "   ├─ model.0.bias [parameter] (1,)" in lines
    assert "      └─ model.0.weight [parameter] (1, 3)" in lines
    assert "Not connected to the graph:" in lines
    assert "  model.2.weight [parameter] (1, 1)  ✂ not reached" in lines
    assert "  ✂ detached at AddmmBackward0: pred is .detach() of AddmmBackward0." in lines
    assert "Reached by backward(): none" in lines
    assert "Not reached: model.0.weight, model.0.bias, model.2.weight" in lines


def test_a_node_reached_twice_is_printed_once_and_referred_to():
    text = graphs.render_text(diamond_graph())
    assert text.count("x [input] (3,)") == 1
    assert "x [input] (3,)  [#4]" in text and "-> #4 (above)" in text
    assert text.splitlines()[0] == "backward() from z (the last of 2 backward() calls in this call):"
    assert "a = MulBackward0 (3,)" in text


def test_a_pair_shows_both_graphs_or_says_the_expected_one_is_missing():
    text = graphs.render_pair_text({"student": detached_graph(), "expected": None})
    assert text.startswith("Your graph:\n  backward() from loss:")
    assert text.endswith("Expected graph (the reference solution):\n  (not available)")


def test_grade_output_prints_both_graphs_under_the_failed_check():
    check = CheckResult(name="updates_parameters", verdict=Verdict.FAILED, points=0, max_points=4,
                        message="The parameters did not change.",
                        graph={"student": detached_graph(), "expected": diamond_graph()})
    passed = CheckResult(name="returns_loss", verdict=Verdict.PASSED, points=2, max_points=2, message="",
                         graph={"student": detached_graph(), "expected": None})
    output = format_grade(GradeResult.from_checks("a.py", "detached-prediction", 6, [check, passed]))
    lines = output.splitlines()
    assert "      Your graph:" in lines and "      Expected graph (the reference solution):" in lines
    assert "        └─ ✂ detached: AddmmBackward0 (4, 1)" in lines
    assert output.count("Your graph:") == 1, "passed checks print no graph"


def test_grade_output_skips_a_graph_that_does_not_validate():
    check = CheckResult(name="x", verdict=Verdict.FAILED, points=0, max_points=1, message="m",
                        graph={"student": {"nodes": "<script>"}, "expected": None})
    assert "Your graph" not in format_grade(GradeResult.from_checks("a.py", "e", 1, [check]))


# ----------------------------------------------------------------------------- SVG
def test_the_svg_is_deterministic_and_accessible():
    first = graphs.render_svg(detached_graph(), title="Your graph", ident="check-1")
    assert first == graphs.render_svg(copy.deepcopy(detached_graph()), title="Your graph", ident="check-1")
    assert first.startswith('<svg xmlns="http://www.w3.org/2000/svg"') and first.endswith("</svg>")
    assert '<title id="check-1-title">Your graph</title>' in first
    assert 'aria-labelledby="check-1-title check-1-desc"' in first
    width, height = map(int, re.search(r'viewBox="0 0 (\d+) (\d+)"', first).groups())
    assert 200 < width < 2000 and 100 < height < 2000
    assert f'width="{width}" height="{height}"' in first


def test_the_svg_draws_cut_links_red_and_dashed_and_loose_nodes_apart():
    svg = graphs.render_svg(detached_graph())
    link = re.search(r'<g class="graph-cut-link"><line [^>]*>', svg).group(0)
    assert graphs.CUT_COLOUR in link and "stroke-dasharray" in link
    assert svg.count('<line ') == 3 + 1, "three autograd edges and one cut link"
    assert svg.count('<g class="graph-node') == 6
    assert "not connected to loss" in svg
    assert "✂ detached" in svg and "✂ not reached" in svg


def test_every_label_in_the_svg_is_escaped():
    data = detached_graph()
    data["nodes"][1]["name"] = "<script>alert(1)</script>"
    data["nodes"][2]["label"] = '"><img src=x onerror=alert(1)>'
    data["root"]["label"] = "</title><script>"
    svg = graphs.render_svg(graphs.validate(data), title="<b>title</b>", ident='x" onload="alert(1)')
    assert "<script" not in svg and "<img" not in svg and "<b>" not in svg and "onload=" not in svg
    assert "&lt;script&gt;" in svg


def test_an_empty_graph_still_draws_something_readable():
    empty = {"root": {"label": "no backward() call", "node": None, "requires_grad": False, "shape": None},
             "backward_calls": 0, "nodes": [], "edges": [], "cuts": [], "reached": [], "unreached": [],
             "truncated": False}
    svg = graphs.render_svg(empty)
    assert "No backward() ran in this call" in svg
    assert graphs.render_text(empty).splitlines()[0] == "No backward() ran in this call; what the code computed:"


def test_a_cycle_in_untrusted_data_does_not_hang_the_renderers():
    data = diamond_graph()
    data["edges"].append([4, 0])
    checked = graphs.validate(data)
    assert checked is not None
    assert graphs.render_svg(checked).endswith("</svg>")
    assert "-> #0 (above)" in graphs.render_text(checked)


# ----------------------------------------------------------------------------- the web page
def render_feedback(graph_pair: dict) -> str:
    from flask import Flask, render_template
    from flask_babel import Babel

    from grader.web import language, templating

    app = Flask("feedback-test", template_folder=str(TEMPLATES))
    Babel(app)
    templating.init_app(app)
    language.init_app(app)
    check = {"name": "updates_parameters", "verdict": "failed", "points": 0, "max_points": 4,
             "message": "The parameters did not change.", "graph": graph_pair}
    with app.test_request_context():
        return render_template("_feedback.html", run={"result": {"checks": [check]}}, instructor_view=False)


def test_the_feedback_page_shows_both_graphs_with_the_cuts_as_text():
    html = render_feedback({"student": detached_graph(), "expected": diamond_graph()})
    assert html.count('<svg xmlns="http://www.w3.org/2000/svg" class="graph-svg"') == 2
    assert 'id="graph-1-student-title"' in html and 'id="graph-1-expected-title"' in html
    assert "Your autograd graph" in html and "Expected graph (the reference solution)" in html
    assert "pred is .detach() of AddmmBackward0." in html
    assert "No cut: backward() reaches every parameter." in html


def test_the_feedback_page_escapes_what_the_sandbox_reported():
    data = detached_graph()
    data["cuts"][1]["text"] = "<script>alert('cut')</script>"
    data["nodes"][1]["name"] = "<script>alert('node')</script>"
    html = render_feedback({"student": data, "expected": {"nodes": "not a graph"}})
    assert "<script>" not in html
    assert "&lt;script&gt;alert(&#39;cut&#39;)&lt;/script&gt;" in html
    assert "Not available." in html


# ----------------------------------------------------------------------------- languages
def rebinding_fit(x, y, w0, lr, steps):
    w = w0.clone().requires_grad_()
    for _ in range(steps):
        loss = ((w * x - y) ** 2).mean()
        loss.backward()
        w = w - lr * w.grad
    return w


@pytest.mark.parametrize("locale, script", [("zh_Hans", r"[\u4e00-\u9fff]"), ("ru", r"[\u0400-\u04ff]")])
def test_the_graph_is_drawn_in_the_student_language(locale, script):
    import torch

    from grader.i18n.localize import localize_check
    from grader.sandbox.graph_probe import GraphRecorder

    args = {"x": torch.tensor([1.0, 2.0]), "y": torch.tensor([2.0, 4.0]), "w0": torch.tensor([0.5]),
            "lr": 0.1, "steps": 2}
    with GraphRecorder(args, __file__) as recorder:
        with pytest.raises(TypeError):  # the second step: w.grad is None (the sandbox keeps the graph)
            rebinding_fit(**args)
    graph = graphs.validate(recorder.report())
    assert graph is not None and any(c["kind"] == "rebound" for c in graph["cuts"])
    english = graphs.render_text(graph)
    assert "is now a new tensor" in english and "leaf made in rebinding_fit()" in english

    # The probe's plain English data drawn in the language, and the same once the stored
    # check was localised (as the web page and `grader grade` do): one translation, not two.
    stored = localize_check({"name": "c", "graph": {"student": graph, "expected": None}}, locale)["graph"]["student"]
    assert graphs.validate(stored) is not None
    for data in (graph, stored):
        cuts = graphs.cut_list(data, locale=locale)
        text = graphs.render_text(data, locale)
        svg = graphs.render_svg(data, ident="g", locale=locale)
        for rendered in [c["title"] for c in cuts] + [c["text"] for c in cuts] + [text, svg]:
            assert re.search(script, rendered), rendered
        rebound = next(c for c in cuts if c["kind"] == "rebound")
        assert rebound["where"] == "w" and "SubBackward0" in rebound["text"] and "`w = w - lr * w.grad`" in rebound["text"]
        for kept in ("SubBackward0", "MulBackward0", "MeanBackward0", "rebinding_fit()", "(1,)"):
            assert kept in text and kept in svg
        for english_words in ("is now a new tensor", "leaf made in", "Where the chain breaks", "backward() from",
                              "rebound", "grad of a non-leaf"):
            assert english_words not in text and english_words not in svg
        assert text == graphs.render_text(graph, locale)
    pair = graphs.render_pair_text({"student": graph, "expected": None}, locale)
    assert re.search(script, pair.splitlines()[0]) and "SubBackward0" in pair
