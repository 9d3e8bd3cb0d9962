"""Sandbox side of gradient-accumulation: builds model and optimizer from plain data, counts
the optimizer's steps with a step hook, calls the student's ``accumulated_step`` and reports
the returned loss, the parameters after the call and the number of steps."""

from grader.sandbox.driver_kit import (ContractViolation, as_float, build_model, build_optimizer,
                                       model_report)


def run_accumulated_step(student, layers, params, optimizer, micro_batches, sizes=None):
    """``sizes`` (the rows of each micro-batch) is only there to make failing examples readable."""
    model = build_model({"layers": layers, "params": params})
    opt = build_optimizer(optimizer, model.parameters())
    steps = [0]

    def count_step(_optimizer, _args, _kwargs):
        steps[0] += 1

    opt.register_step_post_hook(count_step)
    loss = student.accumulated_step(model, opt, [(x, y) for x, y in micro_batches])
    if loss is None:
        raise ContractViolation("accumulated_step must return the full-batch loss as a float, "
                                "but it returned None")
    return {"loss": as_float(loss, "the value accumulated_step returned"),
            "params": model_report(model),
            "steps": steps[0]}
