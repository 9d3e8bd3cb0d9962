"""Sandbox side of accumulated-gradients: builds model and optimizer from plain data, calls
the student's ``train`` once per call of a session, on the same model, and reports after
every call the losses (with their types) and every parameter with its ``.grad``."""

from grader.sandbox.driver_kit import (build_model, build_optimizer, float_or_none, model_report, type_name,
                                       use_layout)


def run_train(student, layers, params, optimizer, calls, layout="contiguous"):
    """``train`` once per call; a call with an ``optimizer`` spec gets a new optimizer built on
    the same model, the others continue with the previous one."""
    model = build_model({"layers": layers, "params": params})
    use_layout(model, layout)
    opt = build_optimizer(optimizer, model.parameters())
    replies = []
    for call in calls:
        if call.get("optimizer") is not None:
            opt = build_optimizer(call["optimizer"], model.parameters())
        losses = student.train(model, opt, [(x, y) for x, y in call["batches"]], call["epochs"])
        replies.append({**loss_report(losses), "params": model_report(model, grads=True)})
    return replies


def loss_report(losses):
    """The container's type, each item's type, and the values that are numbers (else None)."""
    if not isinstance(losses, (list, tuple)):
        return {"container": type_name(losses), "types": [], "is_float": [], "losses": None}
    return {"container": type_name(losses), "types": [type_name(v) for v in losses],
            "is_float": [isinstance(v, float) for v in losses],
            "losses": [float_or_none(v, "a loss") for v in losses]}
