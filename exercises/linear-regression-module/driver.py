"""Sandbox side of linear-regression-module: builds the student's ``LinearRegressionModel``,
loads given weights into it, calls ``forward`` and ``fit``, and reports plain data."""

import torch
from torch import nn

from grader.sandbox.driver_kit import (ContractViolation, as_float, recorded_warnings, tensor_report,
                                       type_name)


def _build(student, input_dim, output_dim):
    model = student.LinearRegressionModel(input_dim, output_dim)
    if not isinstance(model, nn.Module):
        raise ContractViolation(f"LinearRegressionModel({input_dim}, {output_dim}) must be an "
                                f"nn.Module, but it is a {type_name(model)}")
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
    for tensor, what, shape in ((weight, "weight", (output_dim, input_dim)), (bias, "bias", (output_dim,))):
        if tensor is None:
            raise ContractViolation(f"LinearRegressionModel({input_dim}, {output_dim}) has no parameter "
                                    f"of shape {shape} to hold the {what}; the shapes of its "
                                    f"parameters are {shapes}")
    return weight, bias


def _loaded(student, input_dim, output_dim, weight, bias):
    model = _build(student, input_dim, output_dim)
    w, b = _weight_and_bias(model, input_dim, output_dim)
    with torch.no_grad():
        w.copy_(weight)
        b.copy_(bias)
    return model


def run_parameters(student, input_dim, output_dim):
    model = _build(student, input_dim, output_dim)
    return [{"name": name, "shape": list(p.shape)} for name, p in model.named_parameters()]


def run_forward(student, input_dim, output_dim, weight, bias, x):
    model = _loaded(student, input_dim, output_dim, weight, bias)
    return tensor_report(model(x), "the output of forward", grad=False)


def _fit(student, model, x, y, lr, epochs):
    losses = student.fit(model, x, y, lr, epochs)
    if not isinstance(losses, (list, tuple)):
        raise ContractViolation(f"fit must return a list of losses, not {type_name(losses)}")
    return losses


def run_fit_types(student, input_dim, output_dim, x, y, lr, epochs):
    """fit on a model with the student's own initialisation; reports what the losses are."""
    losses = _fit(student, _build(student, input_dim, output_dim), x, y, lr, epochs)
    return {"container": type_name(losses), "types": [type_name(v) for v in losses],
            "is_float": [isinstance(v, float) for v in losses]}


def run_fit(student, input_dim, output_dim, weight, bias, x, y, lr, epochs):
    """fit on a model loaded with (weight, bias); reports the losses and the trained parameters."""
    model = _loaded(student, input_dim, output_dim, weight, bias)
    losses = _fit(student, model, x, y, lr, epochs)
    w, b = _weight_and_bias(model, input_dim, output_dim)
    return {
        "losses": [as_float(v, f"loss {i}") for i, v in enumerate(losses)],
        "weight": tensor_report(w, "the weight", grad=False),
        "bias": tensor_report(b, "the bias", grad=False),
    }


def run_classic(student, x, y, x_new, lr, epochs):
    """Construct, fit and predict with the student's own initialisation, recording warnings."""
    with recorded_warnings() as caught:
        model = _build(student, 1, 1)
        student.fit(model, x, y, lr, epochs)
        prediction = model(x_new)
    return {"prediction": tensor_report(prediction, "the prediction", grad=False), "warnings": caught}
