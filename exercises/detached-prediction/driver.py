"""Sandbox side of detached-prediction: builds model and optimizer from plain data, calls
the student's ``train_step`` once per step of a session and reports, after every call, what
it returned and every parameter."""

from torch import empty_like

from grader.sandbox.driver_kit import (build_model, build_optimizer, float_or_none, model_report, type_name,
                                       use_layout)


def run_train_step(student, layers, params, optimizer, steps, layout="contiguous"):
    """One call per step, on the same model; before a step the model may receive leftover
    ``grads`` or a new ``optimizer`` (built on the same model)."""
    model = build_model({"layers": layers, "params": params})
    use_layout(model, layout)
    opt = build_optimizer(optimizer, model.parameters())
    replies = []
    for step in steps:
        if step.get("optimizer") is not None:
            opt = build_optimizer(step["optimizer"], model.parameters())
        if step.get("grads") is not None:
            set_leftover_gradients(model, step["grads"])
        loss = student.train_step(model, opt, step["x"], step["y"])
        replies.append({"type": type_name(loss), "is_float": isinstance(loss, float),
                        "loss": float_or_none(loss, "the value train_step returned"),
                        "params": model_report(model)})
    return replies


def set_leftover_gradients(model, grads):
    """Gradients in the parameter's own layout, as backward() would have left them."""
    for param, grad in zip(model.parameters(), grads):
        param.grad = None if grad is None else empty_like(param).copy_(grad.reshape(param.shape))
