"""Sandbox side of adam-from-scratch: a whole training run of the student's ``Adam`` in one call.

``run_actions`` builds fresh parameters from plain data and creates ``Adam`` on them through
a generator, as ``Adam(model.parameters())`` would. It then performs the actions in order:
backward passes that accumulate into ``.grad``, ``step()``, ``zero_grad()``, and gradients
dropped or zeroed by the training loop itself. After every ``step()`` it reports the
parameters (and whether the step changed any ``.grad``), and after every ``zero_grad()`` the
gradients. Each set of tensors travels flattened into one tensor, because every tensor on
the wire costs about as much as a small optimizer step. If the student's code raises,
``run_progress`` tells which action it was performing.
"""

import torch

from grader.sandbox.driver_kit import ContractViolation

_progress = {"at": 0}


def _loss(params, terms):
    """sum over the parameters in the loss of (c * p**2 + d * p).sum(); None if none is."""
    loss = None
    for p, term in zip(params, terms):
        if term is None:
            continue
        piece = (term["c"] * p ** 2 + term["d"] * p).sum()
        loss = piece if loss is None else loss + piece
    return loss


def _flat(tensors):
    """The numbers of several tensors in one float32 tensor: one tensor on the wire, not many."""
    if not tensors:
        return torch.zeros(0)
    return torch.cat([t.detach().reshape(-1).to(torch.float32) for t in tensors])


def _grads(params):
    grads = [p.grad for p in params]
    return {"none": [g is None for g in grads],
            "values": _flat([torch.zeros_like(p) if g is None else g for p, g in zip(params, grads)])}


def _params(params):
    return {"shapes": [list(p.shape) for p in params],
            "dtypes": [str(p.dtype).replace("torch.", "") for p in params],
            "leaf": [bool(p.is_leaf) for p in params],
            "requires_grad": [bool(p.requires_grad) for p in params],
            "values": _flat(params)}


def run_actions(student, params, hyper, actions, report_params):
    """``Adam(<generator over params>, **hyper)``, then ``actions``; one report per action."""
    _progress["at"] = 0
    tensors = [value.detach().clone().requires_grad_() for value in params]
    kwargs = dict(hyper)
    if "betas" in kwargs:
        kwargs["betas"] = tuple(kwargs["betas"])
    # A generator, like model.parameters(): it can be iterated only once.
    optimizer = student.Adam((p for p in tensors), **kwargs)
    reports = []
    for index, (kind, argument) in enumerate(actions, start=1):
        _progress["at"] = index
        report = None
        if kind == "backward":
            loss = _loss(tensors, argument)
            if loss is not None:
                loss.backward()
        elif kind == "step":
            before = [None if p.grad is None else p.grad.detach().clone() for p in tensors]
            optimizer.step()
            after = [p.grad for p in tensors]
            report = {"params": _params(tensors) if report_params else None,
                      "grads_changed": [(a is None) != (b is None) or a is not None and (
                          a.shape != b.shape or not bool(torch.equal(a.detach(), b)))
                          for a, b in zip(after, before)]}
        elif kind == "zero_grad":
            if argument is None:
                optimizer.zero_grad()
            else:
                optimizer.zero_grad(set_to_none=argument)
            report = _grads(tensors)
        elif kind == "set_grads":
            for p, what in zip(tensors, argument):
                if what == "none":
                    p.grad = None
                elif what == "zero":
                    p.grad = torch.zeros_like(p)
        else:
            raise ContractViolation(f"unknown action {kind!r}")
        reports.append(report)
    return reports


def run_progress(student):
    """The index of the action the last ``run_actions`` was performing (0: creating Adam)."""
    return _progress["at"]
