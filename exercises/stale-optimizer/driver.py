"""Sandbox side of stale-optimizer: gives the student a ``make_model`` factory (fresh random
weights at every call) and a checkpoint, records every optimizer the student creates, and
reports the returned model's parameters and whether each optimizer holds exactly those tensors."""

from collections import OrderedDict

from torch import nn

from grader.sandbox.driver_kit import (ContractViolation, model_report, optimizer_tensors, snapshot,
                                       tracked_optimizers, type_name)
from grader.specs import build_model


def _state_dict_keys(layers):
    """The keys of ``build_model(layers).state_dict()``: "<index>.weight", "<index>.bias"."""
    keys = []
    for index, layer in enumerate(layers):
        if layer[0] == "linear":
            keys += [f"{index}.weight", f"{index}.bias"]
    return keys


def run_train(student, layers, params, x, y, lr, steps, inputs_after=False):
    state_dict = OrderedDict(zip(_state_dict_keys(layers), params))
    checkpoint_tensors = list(state_dict.values())

    def make_model():
        return build_model(layers)

    with tracked_optimizers() as created:
        model = student.train_from_checkpoint(make_model, state_dict, x, y, lr, steps)
    if not isinstance(model, nn.Module):
        extra = ""
        if "IncompatibleKeys" in type_name(model):
            extra = ("; load_state_dict loads the weights in place and returns a report of missing "
                     "and unexpected keys, not the model")
        raise ContractViolation(f"train_from_checkpoint must return the trained model (an nn.Module), "
                                f"but it returned {type_name(model)}{extra}")
    own = {id(p) for p in model.parameters()}
    report = {
        "params": model_report(model),
        "optimizers": [{"type": type_name(opt), "held": len(tensors),
                        "foreign": sum(id(t) not in own for t in tensors)}
                       for opt in created for tensors in [optimizer_tensors(opt)]],
    }
    if inputs_after:
        report["state_dict_after"] = [snapshot(t) for t in checkpoint_tensors]
    return report
