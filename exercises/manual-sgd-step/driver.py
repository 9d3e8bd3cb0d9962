"""Sandbox side of manual-sgd-step: builds the parameters from plain data, calls the
student's ``sgd_step`` and reports every parameter (value, autograd metadata, memory, grad).

``run_sgd_step`` makes the first step with ``grads`` and then, in the same round trip, the
later steps listed in ``then`` on the same list of parameters, as a training loop does. Before
a later step the gradients change the way ``zero_grad()`` and ``backward()`` change them:
``refill`` writes the new gradient into the existing ``.grad`` tensor (and leaves zeros where a
parameter gets no gradient, as ``zero_grad(set_to_none=False)`` does); otherwise ``.grad`` is
set to None first and a new tensor is attached (``set_to_none=True``, the default).
"""

import torch

from grader.sandbox.driver_kit import tensor_report, type_name
from grader.specs import make_leaf

# Read autograd's switch through torch._C, captured before the student's code is imported.
_is_grad_enabled = torch._C.is_grad_enabled
_set_grad_enabled = torch._C._set_grad_enabled


def run_sgd_step(student, values, grads, lr, layouts=None, then=()):
    """``{"params", "returned", "grad_enabled"}`` after the first step, ``"storage_before"``,
    and with later steps ``"later"``: the same report after each of them."""
    layouts = layouts or ["contiguous"] * len(values)
    params = [make_leaf(value, layout) for value, layout in zip(values, layouts)]
    for param, grad, layout in zip(params, grads, layouts):
        if grad is not None:
            param.grad = _laid_out(grad, layout)
    # The driver keeps its own references: replacing the list's items does not update the tensors.
    originals = tuple(params)
    # Detached aliases keep the original memory alive, so a replaced storage can never reuse
    # its address; they are also what a caller holding a view of a parameter would see.
    aliases = [param.detach() for param in originals]
    storage_before = [_storage(p, i) for i, p in enumerate(originals)]
    reply = _step(student, params, originals, lr)
    reply["storage_before"] = storage_before
    if then:
        reply["later"] = []
    for later in then:
        _set_gradients(originals, later["grads"], layouts, later["refill"])
        reply["later"].append(_step(student, params, originals, later["lr"]))
    del aliases  # released only now, after the storage of every parameter has been read
    return reply


def _step(student, params, originals, lr):
    """One call of sgd_step on the same list, reported right after it returns."""
    _set_grad_enabled(True)  # each step starts as a training loop's would, whatever came before
    returned = student.sgd_step(params, lr)
    grad_enabled = bool(_is_grad_enabled())
    _set_grad_enabled(True)
    return {"params": [tensor_report(p, f"params[{i}]", storage=True) for i, p in enumerate(originals)],
            "returned": type_name(returned), "grad_enabled": grad_enabled}


def _set_gradients(params, grads, layouts, refill):
    """What ``zero_grad()`` and ``backward()`` do to ``.grad`` between two steps."""
    for param, grad, layout in zip(params, grads, layouts):
        current = param.grad
        if refill and isinstance(current, torch.Tensor) and current.shape == param.shape:
            current.zero_()
            if grad is not None:
                current.copy_(grad)
        else:
            param.grad = None if grad is None else _laid_out(grad, layout)


def _laid_out(grad, layout):
    """A gradient in its parameter's memory layout (a transposed parameter gets a transposed
    gradient, as from autograd; a strided view gets a strided one)."""
    return make_leaf(grad, layout).detach()


def _storage(param, index):
    return tensor_report(param, f"params[{index}]", storage=True, grad=False).storage
