"""Sandbox side of none-grad-after-rebinding: calls the student's ``fit`` and reports plain data.

``run_fit`` makes one call of ``fit`` and then, in the same round trip, the later calls listed
in ``then``, on the same tensors as a notebook would: a new ``lr`` or ``steps``, the rows of
``x`` and ``y`` permuted, or a new starting point. Each call is reported right after it
returns; with several calls, the tensors every call returned are reported once more at the
end, to see whether a later call changed an earlier result.
"""

import torch

from grader.sandbox.driver_kit import N_, ContractViolation, snapshot, tensor_report, type_name


def run_fit(student, x, y, w0, b0, lr, steps, then=()):
    """``{"w", "b", "inputs_after"}`` of the first call, and with later calls ``"later"`` (the
    same for each of them) and ``"kept"`` (every call's pair again, after the last call)."""
    calls = [(x, y, w0, b0, lr, steps)] + [_later_call(x, y, w0, b0, later) for later in then]
    fits, returned = [], []
    for inputs in calls:
        w, b = _fit(student, *inputs)
        fits.append(_report_fit(w, b, inputs))
        returned.append((w, b))
    reply = fits[0]
    if len(calls) > 1:  # every returned value is a tensor: _report_fit checked it
        reply.update(later=fits[1:], kept=[[snapshot(w), snapshot(b)] for w, b in returned])
    return reply


def _later_call(x, y, w0, b0, later):
    """The inputs of a later call: the same tensors, except where ``later`` replaces them."""
    if later.get("rows") is not None:
        rows = torch.tensor(later["rows"], dtype=torch.long)
        x, y = x[rows], y[rows]
    if later.get("w0") is not None:
        w0, b0 = later["w0"], later["b0"]
    return x, y, w0, b0, later["lr"], later["steps"]


def _fit(student, x, y, w0, b0, lr, steps):
    result = student.fit(x, y, w0, b0, lr, steps)
    if not isinstance(result, (tuple, list)) or len(result) != 2:
        raise ContractViolation(N_("fit must return a pair (w, b), but it returned {type}.")
                                .format(type=type_name(result)))
    return result


def _report_fit(w, b, inputs):
    x, y, w0, b0 = inputs[:4]
    return {
        "w": tensor_report(w, "w", grad=False),
        "b": tensor_report(b, "b", grad=False),
        "inputs_after": {"x": snapshot(x), "y": snapshot(y), "w0": snapshot(w0), "b0": snapshot(b0)},
    }
