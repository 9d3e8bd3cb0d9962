"""grader.sandbox.graph_probe in process (no sandbox): GraphRecorder around small torch code."""

from __future__ import annotations

import json
import warnings

import pytest
import torch
import torch.nn.functional as F
from torch.nn.modules import module as nn_module
from torch.optim import optimizer as optim_module

from grader.engine import graph as graphs
from grader.sandbox import graph_probe
from grader.sandbox.graph_probe import GraphRecorder

HERE = __file__


def record(function, args: dict, student_file: str | None = HERE) -> dict:
    """The report of ``function(**args)`` under the recorder; the function's own exception is
    swallowed, as the sandbox child does."""
    with GraphRecorder(args, student_file) as recorder:
        try:
            function(**args)
        except Exception:  # noqa: BLE001 - the graph up to the failure is what is wanted
            pass
    return recorder.report()


def node(report: dict, **fields) -> dict:
    found = [n for n in report["nodes"] if all(n[k] == v for k, v in fields.items())]
    assert len(found) == 1, (fields, report["nodes"])
    return found[0]


def cuts(report: dict, kind: str) -> list[dict]:
    return [c for c in report["cuts"] if c["kind"] == kind]


def small_model() -> torch.nn.Module:
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.Tanh(), torch.nn.Linear(4, 1))


# ----------------------------------------------------------------------------- student code
def fit_by_rebinding(x, y, w0, b0, lr, steps):
    w = w0.clone().requires_grad_()
    b = b0.clone().requires_grad_()
    for _ in range(steps):
        loss = ((w * x + b - y) ** 2).mean()
        loss.backward()
        w = w - lr * w.grad
        b = b - lr * b.grad
    return w, b


def fit_in_place(x, y, w0, b0, lr, steps):
    w = w0.clone().requires_grad_()
    b = b0.clone().requires_grad_()
    for _ in range(steps):
        loss = ((w * x + b - y) ** 2).mean()
        loss.backward()
        with torch.no_grad():
            w -= lr * w.grad
            b -= lr * b.grad
        w.grad.zero_()
        b.grad.zero_()
    return w, b


def train_step_detached(model, optimizer, x, y):
    pred = model(x).clone().detach()
    loss = F.mse_loss(pred, y)
    loss.requires_grad_()
    loss.backward()
    optimizer.step()
    return loss.item()


def train_step(model, optimizer, x, y):
    optimizer.zero_grad()
    loss = F.mse_loss(model(x), y)
    loss.backward()
    logged = loss.detach()  # for logging: not a cut, it feeds no backward()
    optimizer.step()
    return logged.item()


def train_step_under_no_grad(model, x, y):
    with torch.no_grad():
        pred = model(x)
    loss = F.mse_loss(pred, y)
    loss.backward()


def train_with_stale_optimizer(x, y):
    model = small_model()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    model = small_model()  # replaced after the optimizer was built on the first one
    optimizer.zero_grad()
    F.mse_loss(model(x), y).backward()
    optimizer.step()


def hidden_grad(x, w):
    x = x.clone().requires_grad_()
    h = torch.tanh(x @ w)
    z = (h ** 2).sum()
    z.backward()
    return x.grad, h.grad


def long_chain(x, length):
    x = x.clone().requires_grad_()
    y = x
    for _ in range(length):
        y = y * 1.0001
    y.sum().backward()


def rebinding_step(params, lr):
    for p in params:
        p = p - lr * p.grad


def leaves_with_grads():
    params = [torch.ones(2, requires_grad=True), torch.ones(3, requires_grad=True)]
    for p in params:
        p.grad = torch.full_like(p, 0.5)
    return params


# ----------------------------------------------------------------------------- cuts
def test_a_detached_prediction_is_cut_at_the_op_it_detached():
    model = small_model()
    report = record(train_step_detached, {"model": model, "optimizer": torch.optim.SGD(model.parameters(), lr=0.1),
                                          "x": torch.randn(5, 3), "y": torch.randn(5, 1)})
    root = report["root"]["node"]
    assert node(report, id=root)["kind"] == "leaf" and node(report, id=root)["name"] == "loss"
    assert [c["node"] for c in cuts(report, "no-grad-fn")] == [root]
    (detach,) = cuts(report, "detach")
    assert node(report, id=detach["node"])["label"] == "CloneBackward0"
    assert detach["parent"] == root and [root, detach["node"]] not in report["edges"]
    assert "pred" in detach["text"]
    assert report["reached"] == []
    assert sorted(report["unreached"]) == ["model.0.bias", "model.0.weight", "model.2.bias", "model.2.weight"]
    assert not cuts(report, "stale-in-optimizer"), "the optimizer holds the model's own parameters"


def test_rebinding_marks_each_old_leaf_fed_by_the_update():
    args = {"x": torch.tensor([[1.0], [2.0]]), "y": torch.tensor([[0.5], [1.0]]), "w0": torch.tensor([0.3]),
            "b0": torch.tensor([-0.2]), "lr": 0.1, "steps": 2}
    report = record(fit_by_rebinding, args)
    assert report["backward_calls"] == 2
    rebound = {node(report, id=c["node"])["name"]: c for c in cuts(report, "rebound")}
    assert sorted(rebound) == ["b", "w"]
    for name, cut in rebound.items():
        assert node(report, id=cut["node"])["kind"] == "leaf"
        parent = node(report, id=cut["parent"])
        assert (parent["label"], parent["name"]) == ("SubBackward0", name)
        assert [cut["parent"], cut["node"]] in report["edges"]
    assert node(report, id=report["root"]["node"])["label"] == "MeanBackward0"
    (read,) = cuts(report, "non-leaf-grad")  # then w.grad was read on the new non-leaf w
    assert node(report, id=read["node"])["name"] == "w"


def test_a_rebinding_after_the_last_backward_is_shown_beside_the_root():
    args = {"x": torch.ones(2, 1), "y": torch.ones(2, 1), "w0": torch.ones(1), "b0": torch.zeros(1),
            "lr": 0.1, "steps": 1}
    report = record(fit_by_rebinding, args)
    assert sorted(node(report, id=c["node"])["name"] for c in cuts(report, "rebound")) == ["b", "w"]
    parents = {c["parent"] for c in cuts(report, "rebound")}
    assert all(not any(e[1] == p for e in report["edges"]) for p in parents), "new tops, not under the loss"


def test_updating_in_place_under_no_grad_has_no_cut_even_with_leftover_gradients():
    args = {"x": torch.ones(3, 1), "y": torch.ones(3, 1), "w0": torch.ones(1), "b0": torch.zeros(1),
            "lr": 0.1, "steps": 3}
    report = record(fit_in_place, args)
    assert report["cuts"] == []
    assert sorted(report["reached"]) == ["b", "w"]
    assert node(report, name="w")["label"] == "leaf made in fit_in_place()"


def test_a_detach_that_feeds_no_backward_is_not_a_cut():
    model = small_model()
    report = record(train_step, {"model": model, "optimizer": torch.optim.SGD(model.parameters(), lr=0.1),
                                 "x": torch.randn(4, 3), "y": torch.randn(4, 1)})
    assert report["cuts"] == []
    assert sorted(report["reached"]) == ["model.0.bias", "model.0.weight", "model.2.bias", "model.2.weight"]
    assert node(report, name="model.0.weight")["kind"] == "param"


def test_a_loss_computed_under_no_grad_has_no_grad_fn_and_names_the_ops_that_cut_it():
    report = record(train_step_under_no_grad, {"model": small_model(), "x": torch.randn(4, 3),
                                               "y": torch.randn(4, 1)})
    root = report["root"]
    assert root["requires_grad"] is False and root["shape"] == []
    assert [c["node"] for c in cuts(report, "no-grad-fn")] == [root["node"]]
    no_grad = cuts(report, "no-grad")
    assert no_grad and all(c["parent"] == root["node"] for c in no_grad)
    assert all(node(report, id=c["node"])["label"] == "linear() under torch.no_grad()" for c in no_grad)
    assert report["reached"] == [] and len(report["unreached"]) == 4


def test_a_stale_optimizer_shows_parameters_it_does_not_hold_and_tensors_it_holds_in_vain():
    report = record(train_with_stale_optimizer, {"x": torch.randn(4, 3), "y": torch.randn(4, 1)})
    missing = cuts(report, "not-in-optimizer")
    assert sorted(node(report, id=c["node"])["name"] for c in missing) == [
        "model.0.bias", "model.0.weight", "model.2.bias", "model.2.weight"]
    (stale,) = cuts(report, "stale-in-optimizer")
    held = node(report, id=stale["node"])
    assert (held["kind"], held["name"]) == ("param", "SGD") and "4 tensors" in held["label"]
    assert not any(held["id"] in edge for edge in report["edges"])


def test_reading_the_grad_of_a_hidden_value_marks_that_value():
    report = record(hidden_grad, {"x": torch.randn(2, 3), "w": torch.randn(3, 2)})
    (read,) = cuts(report, "non-leaf-grad")
    assert node(report, id=read["node"]) == {"id": read["node"], "kind": "op", "label": "TanhBackward0",
                                             "name": "h", "shape": [2, 2]}
    assert report["root"]["label"] == "z"


def test_an_update_without_backward_shows_the_rebinding_and_says_no_backward_ran():
    params = leaves_with_grads()
    report = record(rebinding_step, {"params": params, "lr": 0.1})
    assert report["backward_calls"] == 0 and report["root"]["node"] is None
    assert sorted(node(report, id=c["node"])["name"] for c in cuts(report, "rebound")) == ["params[0]", "params[1]"]
    assert len(cuts(report, "no-backward")) == 1


def test_call_arguments_are_named_by_their_path():
    params = leaves_with_grads()
    report = record(lambda params, lr: (params[1] * lr).sum().backward(), {"params": params, "lr": 0.5},
                    student_file=None)
    assert node(report, name="params[1]")["kind"] == "input"
    assert report["reached"] == ["params[1]"] and report["unreached"] == ["params[0]"]


def grads_by_autograd_grad(x, w):
    from torch.autograd import grad  # an alias taken before or during the call is seen too

    x = x.clone().requires_grad_()
    h = torch.tanh(x @ w)
    z = (h ** 2).sum()
    return grad(z, [x, h])


def test_autograd_grad_is_a_root_like_backward():
    report = record(grads_by_autograd_grad, {"x": torch.randn(2, 3), "w": torch.randn(3, 2)})
    assert report["backward_calls"] == 1 and report["root"]["label"] == "z"
    assert node(report, id=report["root"]["node"])["label"] == "SumBackward0"
    assert node(report, name="h")["label"] == "TanhBackward0"
    assert report["cuts"] == []


# ----------------------------------------------------------------------------- limits
def test_a_long_graph_is_capped_and_marked_truncated():
    report = record(long_chain, {"x": torch.ones(2), "length": 400})
    assert len(report["nodes"]) <= graphs.MAX_NODES and report["truncated"] is True
    assert graphs.validate(report) is not None


def test_names_and_texts_are_capped():
    namespace: dict = {}
    long_name = "very_long_name_" * 12
    exec(f"def f(x):\n    {long_name} = (x.clone().requires_grad_() * 2)\n    {long_name}.sum().backward()\n",
         {"__file__": HERE}, namespace)
    report = record(namespace["f"], {"x": torch.ones(3)}, student_file="<string>")
    assert any(n["name"] and n["name"].startswith("very_long_name_") for n in report["nodes"])
    assert all(len(n["label"]) <= graphs.MAX_LABEL and len(n["name"] or "") <= graphs.MAX_LABEL
               for n in report["nodes"])
    assert all(len(c["text"]) <= graphs.MAX_TEXT for c in report["cuts"])


def test_the_report_is_plain_data_that_validates_unchanged():
    model = small_model()
    report = record(train_step_detached, {"model": model, "optimizer": torch.optim.SGD(model.parameters(), lr=0.1),
                                          "x": torch.randn(5, 3), "y": torch.randn(5, 1)})
    assert json.loads(json.dumps(report)) == report
    assert graphs.validate(report) == report


def test_the_same_code_gives_the_same_report():
    args = {"x": torch.ones(2, 1), "y": torch.zeros(2, 1), "w0": torch.ones(1), "b0": torch.ones(1),
            "lr": 0.1, "steps": 2}
    assert record(fit_by_rebinding, args) == record(fit_by_rebinding, args)


# ----------------------------------------------------------------------------- no side effects
def global_state():
    return (torch.optim.Optimizer.__init__, dict(nn_module._global_forward_pre_hooks),
            dict(optim_module._global_optimizer_pre_hooks), torch._C._len_torch_function_stack(),
            list(warnings.filters))


def test_every_patch_is_undone_even_when_the_student_code_raised():
    before = global_state()

    def broken(x):
        model = small_model()
        torch.optim.SGD(model.parameters(), lr=0.1)
        F.mse_loss(model(x), x[:, :1]).backward()
        raise ValueError("the student's own bug")

    with pytest.raises(ValueError):
        with GraphRecorder({"x": torch.ones(2, 3)}, HERE):
            broken(torch.ones(2, 3))
    assert global_state() == before
    (x := torch.ones(2, requires_grad=True)).sum().backward()  # autograd works as usual afterwards
    assert torch.equal(x.grad, torch.ones(2))


def test_a_failure_inside_the_recorder_never_reaches_the_student_code(monkeypatch):
    def explode(*args, **kwargs):
        raise RuntimeError("recorder bug")

    monkeypatch.setattr(graph_probe.GraphRecorder, "_walk", explode)
    monkeypatch.setattr(graph_probe.GraphRecorder, "_after", explode)
    args = {"x": torch.ones(2, 1), "y": torch.zeros(2, 1), "w0": torch.ones(1), "b0": torch.ones(1),
            "lr": 0.1, "steps": 3}
    with GraphRecorder(args, HERE) as recorder:
        w, b = fit_in_place(**args)
    assert w.is_leaf and recorder.report()["backward_calls"] == 3
    assert graphs.validate(recorder.report()) is not None
