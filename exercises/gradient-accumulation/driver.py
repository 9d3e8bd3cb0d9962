"""Sandbox side of gradient-accumulation: builds model and optimizer from plain data (with the
leftover gradients the statement allows in ``p.grad``), counts the optimizer's steps with a
step hook, calls the student's ``accumulated_step`` and reports the returned loss, the
parameters after the call and the number of steps.

``run_training_loop`` is a training loop that never clears the gradients: it calls
``accumulated_step`` again and again on the same model and optimizer, optionally adding more
leftover gradients before a call (as another ``backward()`` in the loop would), and reports
after every call. One driver call, one round trip, however long the loop.
"""

import torch

from grader.sandbox.driver_kit import (N_, ContractViolation, as_float, build_model, build_optimizer,
                                       model_report)


def _step_counter(optimizer):
    """A list whose first item counts the optimizer's steps (reset it to count one call)."""
    steps = [0]

    def count_step(_optimizer, _args, _kwargs):
        steps[0] += 1

    optimizer.register_step_post_hook(count_step)
    return steps


def _call(student, model, optimizer, micro_batches, steps):
    steps[0] = 0
    loss = student.accumulated_step(model, optimizer, [(x, y) for x, y in micro_batches])
    if loss is None:
        raise ContractViolation(N_("accumulated_step must return the full-batch loss as a float, "
                                   "but it returned None."))
    return {"loss": as_float(loss, N_("the value accumulated_step returned")),
            "params": model_report(model),
            "steps": steps[0]}


def _add_leftover(model, grads):
    """What another backward() in the loop would leave: added to whatever .grad holds."""
    with torch.no_grad():
        for p, g in zip(model.parameters(), grads):
            if g is None:
                continue
            if p.grad is None:
                p.grad = g.reshape(p.shape).clone()
            else:
                p.grad.add_(g.reshape(p.shape))


def run_accumulated_step(student, layers, params, optimizer, micro_batches, grads=None,
                         sizes=None, leftover=None):
    """``sizes`` and ``leftover`` (the rows of each micro-batch, which gradients are left over)
    are only there to make failing examples readable."""
    model = build_model({"layers": layers, "params": params, "grads": grads})
    opt = build_optimizer(optimizer, model.parameters())
    return _call(student, model, opt, micro_batches, _step_counter(opt))


def run_training_loop(student, layers, params, optimizer, calls, grads=None, leftover=None):
    """``calls``: ``[{"micro_batches": [...], "grads": [...] or None, ...}, ...]``, in order."""
    model = build_model({"layers": layers, "params": params, "grads": grads})
    opt = build_optimizer(optimizer, model.parameters())
    steps = _step_counter(opt)
    reports = []
    for call in calls:
        if call.get("grads") is not None:
            _add_leftover(model, call["grads"])
        reports.append(_call(student, model, opt, call["micro_batches"], steps))
    return {"calls": reports}
