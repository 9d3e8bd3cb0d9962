"""Sandbox side of non-leaf-grad: calls the student's ``input_and_hidden_grads`` (once, or
several times on the same tensors) and reports the returned gradients and the inputs after."""

from grader.sandbox.driver_kit import ContractViolation, snapshot, tensor_report, type_name

NAMES = ("grad_x", "grad_h")


def _gradient(value, name):
    """A returned gradient: a tensor, or None (which the checks explain)."""
    if value is None:
        return None
    return tensor_report(value, name, grad=False)


def run_grads(student, x, w, calls=1):
    answers = []
    for _ in range(calls):
        result = student.input_and_hidden_grads(x, w)
        if not isinstance(result, (tuple, list)) or len(result) != 2:
            raise ContractViolation("input_and_hidden_grads must return a pair (grad_x, grad_h), "
                                    f"but it returned {type_name(result)}")
        answers.append({name: _gradient(value, name) for name, value in zip(NAMES, result)})
    return {"answers": answers, "x_after": snapshot(x), "w_after": snapshot(w)}
