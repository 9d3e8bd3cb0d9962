"""Sandbox side of accumulated-gradients: builds model and optimizer from plain data, calls
the student's ``train`` and reports the losses (with their types) and every parameter
with its final ``.grad``."""

from grader.sandbox.driver_kit import (ContractViolation, as_float, build_model, build_optimizer,
                                       model_report, type_name)


def run_train(student, layers, params, optimizer, batches, epochs):
    model = build_model({"layers": layers, "params": params})
    opt = build_optimizer(optimizer, model.parameters())
    losses = student.train(model, opt, [(x, y) for x, y in batches], epochs)
    if not isinstance(losses, (list, tuple)):
        raise ContractViolation(f"train must return a list of losses, not {type_name(losses)}")
    return {
        "container": type_name(losses),
        "types": [type_name(v) for v in losses],
        "is_float": [isinstance(v, float) for v in losses],
        "losses": [as_float(v, f"loss {i}") for i, v in enumerate(losses)],
        "params": model_report(model, grads=True),
    }
