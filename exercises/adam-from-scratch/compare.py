"""Reading what the sandbox reported for a run, and comparing it with the twin, into CheckFailed.

The driver's reply to ``run_actions`` is plain data::

    {"steps": {"values": (steps, numbers) tensor, "none_before": [[bool]], "grads_changed": [[bool]],
               "shapes": [[shape]], "dtypes": [[str]], "leaf": [[bool]], "requires_grad": [[bool]]},
     "zero_grads": {"values": (calls, numbers) tensor, "none_before": [[bool]], "none": [[bool]]}}

one row per step() (and per zero_grad()) of the unrolled run, in order.
"""

from __future__ import annotations

import math

import torch

from grader.checks import CheckFailed
from grader.i18n.text import N_, T
from grader.sandbox.client import StudentError
from grader.sandbox.wire import WireTensor

from .hints import (GRAD_CHANGED_HINT, IN_PLACE_LEAF_HINT, LEAF_HINT, NONE_GRAD_ERROR_HINT,
                    ZERO_DIVISION_HINT)
from .render import after_text, steps_text
from .twin import close, prefix, unrolled


class Diverged(CheckFailed):
    """A difference found at the end of ``actions``.

    ``kind`` names the sort of failure ("params", "leaf", "error:TypeError", ...): a shorter run
    replaces this one only if it fails in the same way. ``observed`` is the student's parameters
    after the last step, for the diagnosis; ``essential`` lists what the run cannot do without
    (found while minimizing: "layouts", "scale", "groups", "long").
    """

    def __init__(self, message, actions, kind, *, expected=None, got=None, hint=None,
                 observed=None, stuck=False, param=None):
        super().__init__(message, expected=expected, got=got, hint=hint,
                         example={"steps": steps_text(actions)})
        self.actions, self.kind, self.observed = list(actions), kind, observed
        self.param = param  # the index of the parameter that differs
        self.stuck = stuck  # the student's step left it as it was, torch's did not
        self.essential = ()


class Unreadable(Exception):
    """The reply does not have the structure the driver gives it."""


def unreadable(actions):
    return Diverged(N_("What your optimizer left after these steps could not be read back."),
                    actions, "contract")


def split(flat, shapes):
    """The tensors of ``shapes`` back from one row of numbers."""
    sizes = [math.prod(shape) for shape in shapes]
    if tuple(flat.shape) != (sum(sizes),):
        raise Unreadable("a row does not have the expected size")
    return [piece.reshape(shape) for piece, shape in zip(torch.split(flat, sizes), shapes)]


def rows(table, key, count, width):
    """``table[key]``: ``count`` lists of ``width`` entries each (else :class:`Unreadable`)."""
    value = table[key] if isinstance(table, dict) and key in table else None
    if not isinstance(value, list) or len(value) != count or not all(
            isinstance(row, list) and len(row) == width for row in value):
        raise Unreadable(f"{key} does not have one entry per parameter and call")
    return value


def matrix(table, count, total):
    value = table.get("values") if isinstance(table, dict) else None
    if not isinstance(value, WireTensor) or tuple(value.shape) != (count, total):
        raise Unreadable("the values do not have the expected shape")
    return value.value


def step_rows(actions, reply):
    """``(origin, row)`` for every step() of the run: the student's report of that step,
    ``row = {"values", "none_before", "grads_changed", "shapes", "dtypes", "leaf", "requires_grad"}``."""
    shapes = [tuple(p.shape) for p in actions[0][1]["params"]]
    origins = [origin for origin, kind, _ in unrolled(actions) if kind == "step"]
    table = reply.get("steps") if isinstance(reply, dict) else None
    count, width = len(origins), len(shapes)
    values = matrix(table, count, sum(math.prod(s) for s in shapes))
    columns = {key: rows(table, key, count, width)
               for key in ("none_before", "grads_changed", "shapes", "dtypes", "leaf", "requires_grad")}
    return [(origin, {"values": split(values[s], shapes),
                      **{key: column[s] for key, column in columns.items()}})
            for s, origin in enumerate(origins)]


def zero_grad_rows(actions, reply):
    """``(origin, mode, row)`` for every zero_grad() of the run, ``row = {"grads", "none_before", "none"}``."""
    shapes = [tuple(p.shape) for p in actions[0][1]["params"]]
    calls = [(origin, argument) for origin, kind, argument in unrolled(actions) if kind == "zero_grad"]
    table = reply.get("zero_grads") if isinstance(reply, dict) else None
    count, width = len(calls), len(shapes)
    values = matrix(table, count, sum(math.prod(s) for s in shapes))
    none_before, none = rows(table, "none_before", count, width), rows(table, "none", count, width)
    return [(origin, mode, {"grads": split(values[z], shapes), "none_before": none_before[z],
                            "none": none[z]})
            for z, (origin, mode) in enumerate(calls)]


def compare_step(actions, origin, row, expected, before, hint):
    """One step(): float32 leaves that require grad, of unchanged shapes; each .grad that was
    there left as it was; values close to torch.optim.Adam's (``expected``, a ``twin.Expected``).
    ``before``: the student's parameters before this step."""
    done = prefix(actions, origin)
    expected_values = expected.values
    where = after_text("step", None, origin, actions[0][1])
    initial = after_text("step", None, origin, actions[0][1], initial=True)
    for index, value in enumerate(expected_values):
        shape, dtype = tuple(row["shapes"][index]), row["dtypes"][index]
        if shape != tuple(value.shape) or dtype != "float32":
            raise Diverged(T("{where}, p{index} has shape {shape} and dtype {dtype}; it must keep shape "
                             "{expected_shape} and dtype float32.", where=initial, index=index,
                             shape=shape, dtype=dtype, expected_shape=tuple(value.shape)),
                           done, "leaf", hint=LEAF_HINT)
        if not (row["leaf"][index] is True and row["requires_grad"][index] is True):
            raise Diverged(T("{where}, p{index} is no longer a leaf tensor that requires grad.",
                             where=initial, index=index), done, "leaf", hint=LEAF_HINT)
    for index, (had_none, changed) in enumerate(zip(row["none_before"], row["grads_changed"])):
        if had_none is False and changed is not False:
            raise Diverged(T("`opt.step()` changed p{index}.grad ({where}): step() must read the "
                             "gradients, not modify them.", index=index, where=where),
                           done, "grads_changed", hint=GRAD_CHANGED_HINT)
    for index, (got, value, slack) in enumerate(zip(row["values"], expected_values, expected.slack)):
        if not close(got, value, slack):
            stuck = bool(torch.equal(got, before[index])) and not close(value, before[index], slack)
            message = (T("At the end of the steps shown below ({where}), p{index} does not match "
                         "torch.optim.Adam: this step left it unchanged.", where=where, index=index)
                       if stuck else
                       T("At the end of the steps shown below ({where}), p{index} does not match "
                         "torch.optim.Adam.", where=where, index=index))
            raise Diverged(message, done, "params", expected=value, got=got, hint=hint,
                           observed=row["values"], stuck=stuck, param=index)


def student_failure(exc, actions, hint, none_hint=NONE_GRAD_ERROR_HINT):
    """The student's code raised (or broke the contract) during ``actions``: fail with the steps."""
    if isinstance(exc, StudentError):
        text = f"{exc.type_name}: {exc.message}"
        message = (T("Your code raised {error}\n{traceback}", error=text, traceback=exc.traceback)
                   if exc.traceback else T("Your code raised {error}", error=text))
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
