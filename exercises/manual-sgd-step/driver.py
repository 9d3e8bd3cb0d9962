"""Sandbox side of manual-sgd-step: builds the parameters from plain data, calls the
student's ``sgd_step`` and reports every parameter (value, autograd metadata, memory, grad)."""

from grader.sandbox.driver_kit import snapshot, tensor_report, type_name


def run_sgd_step(student, values, grads, lr, report_grads=True):
    params = []
    for value, grad in zip(values, grads):
        param = snapshot(value).requires_grad_()
        if grad is not None:
            param.grad = snapshot(grad)
        params.append(param)
    # The driver keeps its own references: replacing the list's items does not update the tensors.
    originals = tuple(params)
    # Detached aliases keep the original memory alive, so a replaced storage can never reuse
    # its address; they are also what a caller holding a view of a parameter would see.
    aliases = [param.detach() for param in originals]
    storage_before = [tensor_report(p, f"params[{i}]", storage=True, grad=False).storage
                      for i, p in enumerate(originals)]
    returned = student.sgd_step(params, lr)
    after = [tensor_report(p, f"params[{i}]", storage=True, grad=report_grads)
             for i, p in enumerate(originals)]
    del aliases  # released only now, after the storage of every parameter has been read
    return {"params": after, "storage_before": storage_before, "returned": type_name(returned)}
