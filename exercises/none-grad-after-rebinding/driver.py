"""Sandbox side of none-grad-after-rebinding: calls the student's ``fit`` and reports plain data."""

from grader.sandbox.driver_kit import ContractViolation, snapshot, tensor_report, type_name


def run_fit(student, x, y, w0, b0, lr, steps):
    result = student.fit(x, y, w0, b0, lr, steps)
    if not isinstance(result, (tuple, list)) or len(result) != 2:
        raise ContractViolation(f"fit must return a pair (w, b), but it returned {type_name(result)}")
    w, b = result
    return {
        "w": tensor_report(w, "w"),
        "b": tensor_report(b, "b"),
        "inputs_after": {"x": snapshot(x), "y": snapshot(y), "w0": snapshot(w0), "b0": snapshot(b0)},
    }
