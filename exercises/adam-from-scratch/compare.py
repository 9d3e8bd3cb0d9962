"""Comparing what the sandbox reported with the twin, action by action, into CheckFailed."""

from __future__ import annotations

import math

import torch

from grader.checks import CheckFailed
from grader.sandbox.client import StudentError
from grader.sandbox.wire import WireTensor

from .hints import (GRAD_CHANGED_HINT, IN_PLACE_LEAF_HINT, LEAF_HINT, NONE_GRAD_ERROR_HINT,
                    ZERO_DIVISION_HINT)
from .twin import action_text, close, diagnose, steps_text

class Diverged(CheckFailed):
    """A difference found at the end of ``actions``.

    ``kind`` names the sort of failure ("params", "grads", "leaf", "error:TypeError", ...): a
    shorter sequence replaces this one only if it fails in the same way. ``observed`` is what
    the student's code showed then, ``("params", values)`` or ``("grads", gradients)``.
    """

    def __init__(self, message, actions, kind, *, expected=None, got=None, hint=None,
                 observed=None):
        super().__init__(message, expected=expected, got=got, hint=hint,
                         example={"steps": steps_text(actions)})
        self.actions, self.kind, self.observed = list(actions), kind, observed


def unreadable(actions):
    return Diverged(f"What your optimizer left after `{action_text(actions[-1])}` could not be "
                    "read back.", actions, "contract")


def _split(flat, shapes):
    """The tensors of ``shapes`` back from the driver's flat float32 tensor."""
    sizes = [math.prod(shape) for shape in shapes]
    if not isinstance(flat, WireTensor) or tuple(flat.shape) != (sum(sizes),):
        raise TypeError("the flat tensor does not have the expected size")
    return [piece.reshape(shape) for piece, shape in zip(torch.split(flat.value, sizes), shapes)]


def compare_params(actions, reported, expected_values, hint):
    """The parameters after a step(): same shapes, float32 leaves that require grad, close values."""
    last = action_text(actions[-1])
    shapes = [tuple(e.shape) for e in expected_values]
    for index, expected in enumerate(expected_values):
        shape, dtype = tuple(reported["shapes"][index]), reported["dtypes"][index]
        if shape != shapes[index] or dtype != "float32":
            raise Diverged(f"After `{last}`, p{index} has shape {shape} and dtype {dtype}; it must "
                           f"keep shape {shapes[index]} and dtype float32.", actions, "leaf",
                           hint=LEAF_HINT)
        if not (reported["leaf"][index] is True and reported["requires_grad"][index] is True):
            raise Diverged(f"After `{last}`, p{index} is no longer a leaf tensor that requires grad.",
                           actions, "leaf", hint=LEAF_HINT)
    values = _split(reported["values"], shapes)
    for index, (got, expected) in enumerate(zip(values, expected_values)):
        if not close(got, expected):
            raise Diverged(f"After the last of the steps shown below (`{last}`), p{index} does not "
                           "match torch.optim.Adam.", actions, "params", expected=expected, got=got,
                           hint=hint, observed=("params", values))


def compare_grads(actions, reported, expected_grads, shapes, *, strict, hint):
    """The gradients: None where torch has None (``strict``; else None and zeros are alike)."""
    last = action_text(actions[-1])
    values = _split(reported["values"], shapes)
    missing = [flag is True for flag in reported["none"]]
    if len(missing) != len(shapes):
        raise TypeError("one None flag per parameter was expected")
    observed = ("grads", [None if none else value for none, value in zip(missing, values)])
    for index, (none, got, expected) in enumerate(zip(missing, values, expected_grads)):
        if strict and none != (expected is None):
            should = ("None" if expected is None else
                      "a tensor of zeros" if not bool(expected.any()) else "a tensor")
            raise Diverged(f"After `{last}`, p{index}.grad should be {should}, but it is "
                           f"{'None' if none else 'a tensor'}.", actions, "grads",
                           expected=expected, got=None if none else got, hint=hint,
                           observed=observed)
        exp_t = torch.zeros(shapes[index]) if expected is None else expected
        if not close(got, exp_t):
            raise Diverged(f"After `{last}`, p{index}.grad does not hold the expected values.",
                           actions, "grads", expected=exp_t, got=got, hint=hint,
                           observed=observed)


def check_grads_kept(actions, changed, count):
    """step() reads the gradients and leaves them as they were."""
    if not isinstance(changed, list) or len(changed) != count:
        raise TypeError("one flag per parameter was expected")
    for index, flag in enumerate(changed):
        if flag is not False:
            raise Diverged(f"`{action_text(actions[-1])}` changed p{index}.grad: step() must read "
                           "the gradients, not modify them.", actions, "grads_changed",
                           hint=GRAD_CHANGED_HINT)


def student_failure(exc, actions, hint, none_hint=NONE_GRAD_ERROR_HINT):
    """The student's code raised (or broke the contract) during ``actions``: fail with the steps."""
    if isinstance(exc, StudentError):
        message = f"Your code raised {exc.type_name}: {exc.message}"
        if exc.traceback:
            message += f"\n{exc.traceback}"
        text = f"{exc.type_name}: {exc.message}"
        if "NoneType" in text:
            hint = none_hint
        elif "ZeroDivisionError" in text:
            hint = ZERO_DIVISION_HINT
        elif "leaf Variable that requires grad" in text:
            hint = IN_PLACE_LEAF_HINT
        return Diverged(message, actions, f"error:{exc.type_name}", hint=hint)
    sentence = str(exc).strip()  # the driver's own, complete sentence
    return Diverged(sentence if sentence.endswith(".") else sentence + ".", actions, "contract",
                    hint=hint)


def with_diagnosis(failure):
    """``failure`` with the hint of the usual mistake its numbers match, if one does."""
    hint = diagnose(failure.actions, failure.observed) if failure.observed is not None else None
    if hint is None:
        return failure
    diagnosed = CheckFailed(failure.message, hint=hint, example=failure.example)
    diagnosed.expected, diagnosed.got = failure.expected, failure.got
    return diagnosed


