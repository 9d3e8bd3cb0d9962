"""Sandbox side of stale-optimizer: gives the student a ``make_model`` factory (fresh random
weights at every call) and a checkpoint, records every optimizer the student creates or steps
during the call, and reports the returned model's parameters, whether each of those optimizers
holds only that model's tensors, and the checkpoint's values after the call.

``run_resumes`` calls ``train_from_checkpoint`` several times with the same ``make_model`` and
the same ``state_dict`` (as a notebook that resumes twice does), reporting after each call and,
at the end, the parameters of every model returned, so that a later call that changes an
earlier result shows.
"""

import contextlib
from collections import OrderedDict

from torch import nn
from torch.optim.optimizer import register_optimizer_step_pre_hook

from grader.sandbox.driver_kit import (N_, ContractViolation, model_report, optimizer_tensors, snapshot,
                                       tracked_optimizers, type_name)
from grader.specs import build_model


def _state_dict_keys(layers):
    """The keys of ``build_model(layers).state_dict()``: "<index>.weight", "<index>.bias"."""
    keys = []
    for index, layer in enumerate(layers):
        if layer[0] == "linear":
            keys += [f"{index}.weight", f"{index}.bias"]
    return keys


@contextlib.contextmanager
def _optimizers_in_use():
    """Every optimizer created inside the block, then every other one stepped inside it (e.g.
    one kept from an earlier call), each once. The list is complete once the block has ended."""
    in_use, stepped = [], []

    def record(optimizer, _args, _kwargs):
        if not any(optimizer is known for known in stepped):
            stepped.append(optimizer)

    handle = register_optimizer_step_pre_hook(record)
    try:
        with tracked_optimizers() as created:
            yield in_use
    finally:
        handle.remove()
    in_use += created + [opt for opt in stepped if not any(opt is known for known in created)]


def _returned_model(model):
    if not isinstance(model, nn.Module):
        if "IncompatibleKeys" in type_name(model):
            raise ContractViolation(N_("train_from_checkpoint must return the trained model (an nn.Module), "
                                       "but it returned {type}; load_state_dict loads the weights in place "
                                       "and returns a report of missing and unexpected keys, not the model.")
                                    .format(type=type_name(model)))
        raise ContractViolation(N_("train_from_checkpoint must return the trained model (an nn.Module), "
                                   "but it returned {type}.").format(type=type_name(model)))
    return model


def _train(student, make_model, state_dict, checkpoint_tensors, x, y, lr, steps):
    """One call; returns the model and the report of that call."""
    with _optimizers_in_use() as in_use:
        model = student.train_from_checkpoint(make_model, state_dict, x, y, lr, steps)
    model = _returned_model(model)
    own = {id(p) for p in model.parameters()}
    report = {
        "params": model_report(model),
        "optimizers": [{"type": type_name(opt), "held": len(tensors),
                        "foreign": sum(id(t) not in own for t in tensors)}
                       for opt in in_use for tensors in [optimizer_tensors(opt)]],
        "state_dict_after": [snapshot(t) for t in checkpoint_tensors],
    }
    return model, report


def _factory(layers):
    def make_model():
        return build_model(layers)

    return make_model


def run_train(student, layers, params, x, y, lr, steps):
    state_dict = OrderedDict(zip(_state_dict_keys(layers), params))
    _, report = _train(student, _factory(layers), state_dict, list(state_dict.values()),
                       x, y, lr, steps)
    return report


def run_resumes(student, layers, params, runs):
    """``runs``: ``[{"x", "y", "lr", "steps"}, ...]``, all from the same checkpoint and factory."""
    state_dict = OrderedDict(zip(_state_dict_keys(layers), params))
    checkpoint_tensors = list(state_dict.values())
    make_model = _factory(layers)
    models, reports = [], []
    for run in runs:
        model, report = _train(student, make_model, state_dict, checkpoint_tensors,
                               run["x"], run["y"], run["lr"], run["steps"])
        report["same_model_as"] = next((i for i, m in enumerate(models) if m is model), None)
        models.append(model)
        reports.append(report)
    return {"calls": reports, "final": [model_report(m) for m in models]}
