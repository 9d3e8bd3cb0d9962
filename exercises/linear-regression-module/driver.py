"""Sandbox side of linear-regression-module: builds the student's ``LinearRegressionModel``,
loads given weights into it, calls ``forward`` and ``fit`` (several times on the same model
when asked), and reports plain data.

Every reply also carries what the contract promises about every call, for the invariants to
check: the warnings raised while the student's code ran (``"warnings"``), the model's
parameters after the call (``"parameters"``), and for each ``fit`` what it returned
(``"returned"``: the container, its length and the type of each element).
"""

import torch
from torch import nn

from grader.sandbox.driver_kit import (N_, ContractViolation, as_float, recorded_warnings, tensor_report,
                                       type_name)

MAX_REPORTED = 1000  # elements of a returned list described, at most


def _build(student, input_dim, output_dim):
    model = student.LinearRegressionModel(input_dim, output_dim)
    if not isinstance(model, nn.Module):
        raise ContractViolation(N_("LinearRegressionModel({input_dim}, {output_dim}) must be an "
                                   "nn.Module, but it is a {type}.").format(
                                       input_dim=input_dim, output_dim=output_dim, type=type_name(model)))
    return model


def _weight_and_bias(model, input_dim, output_dim):
    """The first parameter of shape (out, in) and the first of shape (out,), in parameters() order."""
    weight = bias = None
    shapes = []
    for p in model.parameters():
        shape = tuple(p.shape)
        shapes.append(shape)
        if weight is None and shape == (output_dim, input_dim):
            weight = p
        elif bias is None and shape == (output_dim,):
            bias = p
    missing = {"input_dim": input_dim, "output_dim": output_dim, "shapes": shapes}
    if weight is None:
        raise ContractViolation(N_("LinearRegressionModel({input_dim}, {output_dim}) has no parameter "
                                   "of shape {shape} to hold the weight; the shapes of its "
                                   "parameters are {shapes}.").format(shape=(output_dim, input_dim), **missing))
    if bias is None:
        raise ContractViolation(N_("LinearRegressionModel({input_dim}, {output_dim}) has no parameter "
                                   "of shape {shape} to hold the bias; the shapes of its "
                                   "parameters are {shapes}.").format(shape=(output_dim,), **missing))
    return weight, bias


def _loaded(student, input_dim, output_dim, weight, bias):
    model = _build(student, input_dim, output_dim)
    w, b = _weight_and_bias(model, input_dim, output_dim)
    with torch.no_grad():
        w.copy_(weight)
        b.copy_(bias)
    return model


def _parameters(model):
    return [{"name": name, "shape": list(p.shape)} for name, p in model.named_parameters()]


def _returned(losses):
    """What fit returned, described: the container, its length, the type of each element."""
    if not isinstance(losses, (list, tuple)):
        return {"container": type_name(losses), "count": None, "types": [], "is_float": []}
    shown = list(losses[:MAX_REPORTED])
    return {"container": type_name(losses), "count": len(losses),
            "types": [type_name(v) for v in shown], "is_float": [isinstance(v, float) for v in shown]}


def _loss_values(losses):
    if not isinstance(losses, (list, tuple)):
        return []
    return [as_float(v, N_("loss {index}").format(index=i)) for i, v in enumerate(losses[:MAX_REPORTED])]


def _reply(model, caught, **fields):
    return {**fields, "parameters": [] if model is None else _parameters(model), "warnings": caught}


def run_parameters(student, input_dim, output_dim):
    with recorded_warnings() as caught:
        model = _build(student, input_dim, output_dim)
    return _reply(model, caught)


def run_forward(student, input_dim, output_dim, weight, bias, x):
    with recorded_warnings() as caught:
        model = _loaded(student, input_dim, output_dim, weight, bias)
        output = model(x)
    return _reply(model, caught, output=tensor_report(output, N_("the output of forward"), grad=False))


def run_fit_types(student, input_dim, output_dim, x, y, lr, epochs):
    """fit on a model with the student's own initialisation; reports what the losses are."""
    with recorded_warnings() as caught:
        model = _build(student, input_dim, output_dim)
        losses = student.fit(model, x, y, lr, epochs)
    return _reply(model, caught, returned=_returned(losses))


def run_fit(student, input_dim, output_dim, weight, bias, fits):
    """A model loaded with (weight, bias), then ``fit(model, x, y, lr, epochs)`` for each of
    ``fits`` in turn, on the same model; after each: the losses and the trained parameters."""
    reports = []
    with recorded_warnings() as caught:
        model = _loaded(student, input_dim, output_dim, weight, bias)
        for call in fits:
            losses = student.fit(model, call["x"], call["y"], call["lr"], call["epochs"])
            w, b = _weight_and_bias(model, input_dim, output_dim)
            reports.append({"returned": _returned(losses), "losses": _loss_values(losses),
                            "weight": tensor_report(w, "the weight", grad=False),
                            "bias": tensor_report(b, "the bias", grad=False)})
    return _reply(model, caught, fits=reports)


def run_classic(student, x, y, x_new, lr, epochs):
    """Construct, fit and predict with the student's own initialisation."""
    with recorded_warnings() as caught:
        model = _build(student, 1, 1)
        losses = student.fit(model, x, y, lr, epochs)
        prediction = model(x_new)
    return _reply(model, caught, returned=_returned(losses),
                  prediction=tensor_report(prediction, N_("the prediction"), grad=False))
