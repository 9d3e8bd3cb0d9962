"""Sandbox side of adam-from-scratch: a whole training run of the student's ``Adam`` in one call.

``run_actions`` builds fresh parameters from plain data, in the memory layout asked for (some
transposed or strided: the student's code must not rely on contiguity), and creates ``Adam`` on
them through a generator, as ``Adam(model.parameters())`` would, or on a list of parameter
groups. It then performs the actions in order: backward passes that accumulate into ``.grad``,
``step()``, ``zero_grad()``, gradients dropped or zeroed by the training loop itself, and loops
(``count`` times: clear the gradients, backward, step), unrolled exactly as the trusted twin
unrolls them.

After every ``step()`` it records the parameters, which gradients were None before the step and
which ones the step changed; after every ``zero_grad()`` which gradients were None before and
after, and their values. The numbers of all steps travel as one ``(steps, numbers)`` tensor and
those of all ``zero_grad()`` calls as another: every tensor on the wire costs about as much as a
small optimizer step. If the student's code raises, ``run_progress`` tells where it was.
"""

import torch

from grader.sandbox.driver_kit import N_, ContractViolation
from grader.specs import make_leaf

OPTIONS = ("lr", "betas", "eps", "weight_decay")
_progress = {"at": [0, 0]}


def _loss(params, terms, scale):
    """scale * the sum over the parameters in the loss of (c * p**2 + d * p).sum(); None if none is."""
    loss = None
    for p, term in zip(params, terms):
        if term is None:
            continue
        piece = (term["c"] * p ** 2 + term["d"] * p).sum()
        loss = piece if loss is None else loss + piece
    if loss is not None and scale != 1.0:
        loss = loss * scale
    return loss


def _unrolled(actions, count):
    """``(index, iteration, kind, argument)`` for every primitive action, loops unrolled."""
    for index, (kind, argument) in enumerate(actions, start=1):
        if kind != "loop":
            yield index, 0, kind, argument
            continue
        clear = (("zero_grad", None) if argument.get("clear", "zero_grad") == "zero_grad"
                 else ("set_grads", ["none"] * count))
        for iteration in range(1, int(argument["count"]) + 1):
            yield (index, iteration) + clear
            yield index, iteration, "backward", argument["terms"]
            yield index, iteration, "step", None


def _flat(tensors, sizes):
    """The numbers of several tensors in one float32 row (zeros for a None or a resized one)."""
    pieces = []
    for tensor, size in zip(tensors, sizes):
        if tensor is None or tensor.numel() != size:
            pieces.append(torch.zeros(size))
        else:
            pieces.append(tensor.detach().reshape(-1).to(torch.float32))
    return torch.cat(pieces) if pieces else torch.zeros(0)


def _stacked(rows, width):
    return torch.stack(rows) if rows else torch.zeros(0, width)


def _options(source):
    chosen = {key: source[key] for key in OPTIONS if key in source}
    if "betas" in chosen:
        chosen["betas"] = tuple(chosen["betas"])
    return chosen


def _create(student, tensors, hyper, groups, iterable):
    if groups is None:
        # A generator, like model.parameters(): it can be iterated only once (or, to tell
        # whether that is what goes wrong, a plain list).
        given = list(tensors) if iterable == "list" else (p for p in tensors)
        return student.Adam(given, **_options(hyper))
    return student.Adam([{"params": [tensors[int(i)] for i in group["params"]], **_options(group)}
                         for group in groups], **_options(hyper))


class _Recorder:
    """The reports of the steps and zero_grad() calls of one run, column by column."""

    def __init__(self, tensors):
        self.tensors = tensors
        self.sizes = [p.numel() for p in tensors]
        self.steps = {key: [] for key in ("values", "none_before", "grads_changed", "shapes",
                                          "dtypes", "leaf", "requires_grad")}
        self.zero_grads = {key: [] for key in ("values", "none_before", "none")}

    def step(self, optimizer):
        tensors = self.tensors
        before = [None if p.grad is None else p.grad.detach().clone() for p in tensors]
        optimizer.step()
        after = [p.grad for p in tensors]
        steps = self.steps
        steps["values"].append(_flat(tensors, self.sizes))
        steps["none_before"].append([b is None for b in before])
        steps["grads_changed"].append([(a is None) != (b is None) or a is not None and (
            a.shape != b.shape or not bool(torch.equal(a.detach(), b))) for a, b in zip(after, before)])
        steps["shapes"].append([list(p.shape) for p in tensors])
        steps["dtypes"].append([str(p.dtype).replace("torch.", "") for p in tensors])
        steps["leaf"].append([bool(p.is_leaf) for p in tensors])
        steps["requires_grad"].append([bool(p.requires_grad) for p in tensors])

    def zero_grad(self, optimizer, mode):
        none_before = [p.grad is None for p in self.tensors]
        if mode is None:
            optimizer.zero_grad()
        else:
            optimizer.zero_grad(set_to_none=mode)
        zero_grads = self.zero_grads
        zero_grads["values"].append(_flat([p.grad for p in self.tensors], self.sizes))
        zero_grads["none_before"].append(none_before)
        zero_grads["none"].append([p.grad is None for p in self.tensors])

    def report(self):
        width = sum(self.sizes)
        return {"steps": {**self.steps, "values": _stacked(self.steps["values"], width)},
                "zero_grads": {**self.zero_grads, "values": _stacked(self.zero_grads["values"], width)}}


def run_actions(student, params, hyper, actions, groups=None, layouts=None, scale=1.0,
                iterable="generator"):
    """``Adam(<generator over params> or <groups>, **hyper)``, then ``actions``; see the module."""
    _progress["at"] = [0, 0]
    layouts = layouts or ["contiguous"] * len(params)
    tensors = [make_leaf(value, layout) for value, layout in zip(params, layouts)]
    optimizer = _create(student, tensors, hyper, groups, iterable)
    recorder = _Recorder(tensors)
    for index, iteration, kind, argument in _unrolled(actions, len(tensors)):
        _progress["at"] = [index, iteration]
        if kind == "backward":
            loss = _loss(tensors, argument, float(scale))
            if loss is not None:
                loss.backward()
        elif kind == "step":
            recorder.step(optimizer)
        elif kind == "zero_grad":
            recorder.zero_grad(optimizer, argument)
        elif kind == "set_grads":
            for p, what in zip(tensors, argument):
                if what == "none":
                    p.grad = None
                elif what == "zero":
                    p.grad = torch.zeros_like(p)
        else:
            raise ContractViolation(N_("unknown action {kind!r}.").format(kind=kind))
    return recorder.report()


def run_progress(student):
    """Where the last ``run_actions`` was: ``[action index, loop iteration]`` (0: creating Adam)."""
    return _progress["at"]
