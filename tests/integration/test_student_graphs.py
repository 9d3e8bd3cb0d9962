"""The autograd graph of a failing call, through the real sandbox: the stub of each
gradient-flow exercise yields a graph cut at the right node, and the bank's reference solution
(run in a child of its own) yields a graph that reaches every parameter with no cut.

The arguments are built by hand, small and deterministic, in the shape each exercise's driver
takes (``driver_accepts`` says clearly when a driver changed its signature)."""

from __future__ import annotations

import ast
import time

import pytest
import torch

from grader.engine import graph as graphs
from grader.engine.grading import SandboxedSubmission, grade_submission
from grader.engine.source import read_submission

LAYERS = [["linear", 2, 3], ["tanh"], ["linear", 3, 1]]
MODEL_PARAMS = ["model.0.bias", "model.0.weight", "model.2.bias", "model.2.weight"]


def tensors(seed: int, *shapes: tuple[int, ...]) -> list[torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    return [torch.round(torch.randn(shape, generator=generator), decimals=3) for shape in shapes]


def model_params() -> list[torch.Tensor]:
    return tensors(1, (3, 2), (3,), (1, 3), (1,))


def driver_accepts(exercise, fn: str, args: dict) -> None:
    """The driver still has ``fn`` and takes these keyword arguments (else: update this test)."""
    tree = ast.parse(exercise.driver_source)
    function = next((f for f in tree.body if isinstance(f, ast.FunctionDef) and f.name == fn), None)
    assert function is not None, f"{exercise.slug}'s driver has no {fn} any more: update this test"
    names = [a.arg for a in function.args.args[1:]]
    required = names[:len(names) - len(function.args.defaults)]
    assert set(args) <= set(names) and set(required) <= set(args), (
        f"{exercise.slug}.{fn} now takes {names}: update the arguments of this test")


def graphs_of(bank, sandbox, slug: str, fn: str, args: dict) -> tuple[dict, dict]:
    exercise = bank.exercise(slug)
    driver_accepts(exercise, fn, args)
    sub = SandboxedSubmission(sandbox, exercise, read_submission(exercise.stub_path))
    try:
        pair = sub.graph_of(fn, args)
    finally:
        sub.close()
    assert pair is not None and pair["student"] is not None and pair["expected"] is not None, pair
    return pair["student"], pair["expected"]


def node(graph: dict, node_id: int) -> dict:
    return next(n for n in graph["nodes"] if n["id"] == node_id)


def cut_nodes(graph: dict, kind: str) -> list[dict]:
    return [node(graph, c["node"]) for c in graph["cuts"] if c["kind"] == kind]


def assert_no_cut(graph: dict, reaches: list[str]) -> None:
    assert graph["cuts"] == [], graphs.render_text(graph)
    assert sorted(graph["reached"]) == sorted(reaches) and graph["unreached"] == []


def test_the_rebinding_stub_rebinds_w_and_b_where_the_solution_updates_them(bank, sandbox):
    x, y, w0, b0 = tensors(2, (2, 1), (2, 1), (1,), (1,))
    student, expected = graphs_of(bank, sandbox, "none-grad-after-rebinding", "run_fit",
                                  {"x": x, "y": y, "w0": w0, "b0": b0, "lr": 0.1, "steps": 2})
    assert student["backward_calls"] == 2
    rebound = cut_nodes(student, "rebound")
    assert sorted(n["name"] for n in rebound) == ["b", "w"] and {n["kind"] for n in rebound} == {"leaf"}
    for cut in (c for c in student["cuts"] if c["kind"] == "rebound"):
        assert node(student, cut["parent"])["label"] == "SubBackward0"
    assert_no_cut(expected, reaches=["b", "w"])


def test_the_detached_prediction_stub_is_cut_at_the_detached_op(bank, sandbox):
    x, y = tensors(3, (4, 2), (4, 1))
    student, expected = graphs_of(bank, sandbox, "detached-prediction", "run_train_step", {
        "layers": LAYERS, "params": model_params(), "optimizer": {"name": "sgd", "lr": 0.1},
        "steps": [{"x": x, "y": y}]})
    root = student["root"]["node"]
    assert [n["id"] for n in cut_nodes(student, "no-grad-fn")] == [root]
    (detach,) = [c for c in student["cuts"] if c["kind"] == "detach"]
    assert detach["parent"] == root and node(student, detach["node"])["label"] == "CloneBackward0"
    assert student["reached"] == [] and sorted(student["unreached"]) == MODEL_PARAMS
    assert_no_cut(expected, reaches=MODEL_PARAMS)
    assert node(expected, expected["root"]["node"])["label"] == "MseLossBackward0"


def test_the_non_leaf_grad_stub_reads_the_grad_of_h(bank, sandbox):
    x, w = tensors(4, (2, 3), (3, 2))
    student, expected = graphs_of(bank, sandbox, "non-leaf-grad", "run_grads", {"x": x, "w": w})
    (hidden,) = cut_nodes(student, "non-leaf-grad")
    assert (hidden["name"], hidden["label"], hidden["shape"]) == ("h", "TanhBackward0", [2, 2])
    assert student["reached"] == ["x"]
    assert_no_cut(expected, reaches=["x"])


def test_the_stale_optimizer_stub_trains_a_model_its_optimizer_does_not_hold(bank, sandbox):
    x, y = tensors(5, (4, 2), (4, 1))
    student, expected = graphs_of(bank, sandbox, "stale-optimizer", "run_train", {
        "layers": LAYERS, "params": model_params(), "x": x, "y": y, "lr": 0.1, "steps": 2})
    assert sorted(n["name"] for n in cut_nodes(student, "not-in-optimizer")) == MODEL_PARAMS
    (stale,) = cut_nodes(student, "stale-in-optimizer")
    assert stale["name"] == "SGD" and "4 tensors" in stale["label"]
    assert sorted(student["reached"]) == MODEL_PARAMS
    assert_no_cut(expected, reaches=MODEL_PARAMS)


def test_the_manual_sgd_stub_rebinds_each_parameter_where_the_solution_updates_it_in_place(bank, sandbox):
    values, grads = tensors(6, (2,), (3,)), tensors(7, (2,), (3,))
    student, expected = graphs_of(bank, sandbox, "manual-sgd-step", "run_sgd_step",
                                  {"values": values, "grads": grads, "lr": 0.1})
    assert student["backward_calls"] == 0 == expected["backward_calls"]
    assert sorted(n["name"] for n in cut_nodes(student, "rebound")) == ["params[0]", "params[1]"]
    assert [c["kind"] for c in expected["cuts"]] == ["no-backward"]
    updates = [n for n in expected["nodes"] if n["kind"] == "op"]
    assert len(updates) == 2 and all("in place" in n["label"] for n in updates)
    assert sorted(expected["reached"]) == ["params[0]", "params[1]"]


def test_grading_the_rebinding_stub_attaches_both_graphs_to_its_failing_gradient_flow_checks(bank, sandbox):
    exercise = bank.exercise("none-grad-after-rebinding")
    flagged = {c.name for c in exercise.checks if c.graph}
    if not flagged:
        pytest.skip("no check of none-grad-after-rebinding is marked graph=True")
    result = grade_submission(exercise, read_submission(exercise.stub_path), sandbox)
    failing = [c for c in result.checks if c.name in flagged and not c.passed]
    assert failing, "the stub fails its gradient-flow checks"
    for check in failing:
        assert check.graph is not None, check.name
        assert graphs.validate(check.graph["student"]) == check.graph["student"]
        assert graphs.validate(check.graph["expected"]) == check.graph["expected"]
        assert check.graph["expected"]["cuts"] == []
    assert any(c["kind"] == "rebound" for check in failing for c in check.graph["student"]["cuts"])


def test_a_graph_call_costs_little_next_to_the_call_itself(bank, sandbox):
    """Not a benchmark (the README's numbers come from measurements): only a guard against a
    recorder that makes the call an order of magnitude slower."""
    exercise = bank.exercise("none-grad-after-rebinding")
    sub = SandboxedSubmission(sandbox, exercise, read_submission(exercise.stub_path))
    x, y, w0, b0 = tensors(2, (2, 1), (2, 1), (1,), (1,))
    args = {"x": x, "y": y, "w0": w0, "b0": b0, "lr": 0.1, "steps": 2}
    try:
        session = sub.ensure_open()
        session.graph("run_fit", args, time.monotonic() + 10)  # warm
        started = time.perf_counter()
        for _ in range(5):
            assert graphs.validate(session.graph("run_fit", args, time.monotonic() + 10)) is not None
        per_call = (time.perf_counter() - started) / 5
    finally:
        sub.close()
    assert per_call < 0.5
