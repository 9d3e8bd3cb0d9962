"""Sandbox side of two-layer-manual-backprop: calls the student's ``two_layer_grads`` and
reports, for every call, the loss as a float and both gradients as tensors (without their own
``.grad``).

A problem may ask for follow-up calls (``then``): each replaces some of the inputs (new
weights ``w1, w2``, or a new batch ``x, y``) and keeps the others, the very same tensor
objects, so that anything one call leaves behind (a cached mask, a cached hidden layer) shows
in the next; before them, each follow-up's inputs are also passed once as fresh copies. Inputs
are handed over in the memory layout asked for (``grader.specs.make_leaf``, detached: they do
not require grad).
"""

from grader.sandbox.driver_kit import N_, ContractViolation, as_float, tensor_report, type_name
from grader.specs import make_leaf

INPUTS = ("x", "w1", "w2", "y")


def _one_call(student, inputs):
    result = student.two_layer_grads(*(inputs[name] for name in INPUTS))
    if not isinstance(result, (tuple, list)) or len(result) != 3:
        raise ContractViolation(N_("two_layer_grads must return a triple (loss, grad_w1, grad_w2), "
                                   "but it returned {type}.").format(type=type_name(result)))
    loss, grad_w1, grad_w2 = result
    return {
        "loss": as_float(loss, N_("the loss two_layer_grads returned")),
        "grad_w1": tensor_report(grad_w1, "grad_w1", grad=False),
        "grad_w2": tensor_report(grad_w2, "grad_w2", grad=False),
    }


def run_two_layer_grads(student, x, w1, w2, y, then=(), layout="contiguous"):
    def laid_out(changes):
        return {name: make_leaf(value, layout).detach() for name, value in changes.items()
                if name in INPUTS}

    values = [{"x": x, "w1": w1, "w2": w2, "y": y}]
    for changes in then:
        values.append({**values[-1], **{k: v for k, v in changes.items() if k in INPUTS}})
    # Each follow-up's inputs once on fresh copies first: what they give on tensors no
    # earlier call has seen, so that the checks can tell state kept between calls apart.
    fresh = [_one_call(student, laid_out(inputs)) for inputs in values[1:]]
    inputs = laid_out(values[0])
    answers = [_one_call(student, inputs)]
    for changes in then:
        inputs = {**inputs, **laid_out(changes)}
        answers.append(_one_call(student, inputs))
    return {"answers": answers, "fresh": fresh}
