"""Sandbox side of detached-prediction: builds model and optimizer from plain data, calls
the student's ``train_step`` and reports the loss and every parameter."""

from grader.sandbox.driver_kit import (ContractViolation, as_float, build_model, build_optimizer,
                                       model_report)


def run_train_step(student, layers, params, optimizer, batches, grads=None):
    """One call per batch, on the same model and optimizer; reports after every call."""
    model = build_model({"layers": layers, "params": params, "grads": grads})
    opt = build_optimizer(optimizer, model.parameters())
    steps = []
    for x, y in batches:
        loss = student.train_step(model, opt, x, y)
        if loss is None:
            raise ContractViolation("train_step must return the loss as a float, but it returned None")
        steps.append({"loss": as_float(loss, "the value train_step returned"),
                      "params": model_report(model)})
    return steps
