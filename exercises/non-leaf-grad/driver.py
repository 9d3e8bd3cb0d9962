"""Sandbox side of non-leaf-grad: calls the student's ``input_and_hidden_grads`` and reports,
after every call, the returned gradients and the values of the inputs that call received.

``run_grads`` makes one call; ``run_sequence`` makes several calls on the same tensor objects
(``steps`` pairs an index into ``xs`` with an index into ``ws``), so that state left behind by
one call (a ``.grad`` on the caller's ``x``, a module-level cache) shows in a later one. Before
the sequence it calls the function once on fresh copies of each pair the sequence uses
(``fresh``): what the same values give on tensors no earlier call has seen. The inputs are
handed over in the memory layout asked for (``grader.specs.make_leaf``, detached so that they
arrive with ``requires_grad=False`` as the statement says).
"""

from grader.sandbox.driver_kit import N_, ContractViolation, snapshot, tensor_report, type_name
from grader.specs import make_leaf

NAMES = ("grad_x", "grad_h")


def _input(values, layout):
    """``values`` in the memory layout ``layout``, not requiring grad."""
    return make_leaf(values, layout).detach()


def _gradient(value, name):
    """A returned gradient: a tensor, or None (which the checks explain)."""
    if value is None:
        return None
    return tensor_report(value, name, grad=False)


def _one_call(student, x, w):
    result = student.input_and_hidden_grads(x, w)
    if not isinstance(result, (tuple, list)) or len(result) != 2:
        raise ContractViolation(N_("input_and_hidden_grads must return a pair (grad_x, grad_h), "
                                   "but it returned {type}.").format(type=type_name(result)))
    answer = {name: _gradient(value, name) for name, value in zip(NAMES, result)}
    answer["x_after"], answer["w_after"] = snapshot(x), snapshot(w)
    return answer


def distinct_pairs(steps):
    """The (x index, w index) pairs of ``steps``, each once, in order of first use."""
    pairs = []
    for i, j in steps:
        if [int(i), int(j)] not in pairs:
            pairs.append([int(i), int(j)])
    return pairs


def run_sequence(student, xs, ws, steps, layout_x="contiguous", layout_w="contiguous"):
    fresh = [_one_call(student, _input(xs[i], layout_x), _input(ws[j], layout_w))
             for i, j in distinct_pairs(steps)]
    shared_x = [_input(x, layout_x) for x in xs]
    shared_w = [_input(w, layout_w) for w in ws]
    answers = [_one_call(student, shared_x[int(i)], shared_w[int(j)]) for i, j in steps]
    return {"fresh": fresh, "answers": answers}


def run_grads(student, x, w, layout_x="contiguous", layout_w="contiguous"):
    return {"answers": [_one_call(student, _input(x, layout_x), _input(w, layout_w))]}
