"""Sandbox side of two-layer-manual-backprop: calls the student's ``two_layer_grads`` and
reports the loss as a float and both gradients as tensors (without their own ``.grad``)."""

from grader.sandbox.driver_kit import ContractViolation, as_float, tensor_report, type_name


def run_two_layer_grads(student, x, w1, w2, y):
    result = student.two_layer_grads(x, w1, w2, y)
    if not isinstance(result, (tuple, list)) or len(result) != 3:
        raise ContractViolation("two_layer_grads must return a triple (loss, grad_w1, grad_w2), "
                                f"but it returned {type_name(result)}")
    loss, grad_w1, grad_w2 = result
    return {
        "loss": as_float(loss, "the loss two_layer_grads returned"),
        "grad_w1": tensor_report(grad_w1, "grad_w1", grad=False),
        "grad_w2": tensor_report(grad_w2, "grad_w2", grad=False),
    }
