"""Helpers for exercise drivers: the trusted code that runs *inside* the sandbox.

A driver (``exercises/<slug>/driver.py``) builds the objects a student function needs from
plain data (tensors, model and optimizer specs), calls the student's function, and reports
what came back as plain data. It lives in the same process as the student's code, so the
student can tamper with it: nothing it reports is believed without checking, and the
trusted side computes every reference itself.

These helpers are imported by the zygote before any fork, so they are in memory when the
filesystem is closed off.
"""

from __future__ import annotations

import contextlib
import sys
import warnings
from typing import Any, Iterator

import torch

from grader import specs
from grader.sandbox.wire import WireTensor, describe

_Tensor = torch.Tensor
_TensorBase = torch._C.TensorBase
_detach = _TensorBase.detach
_clone = _TensorBase.clone


def N_(template: str) -> str:  # noqa: N802 - the gettext marker
    """Mark a driver's sentence template for translation: ``N_("... {kind}").format(kind=k)``.
    Only the rendered English sentence leaves the sandbox; the trusted side recognises it by
    its template and translates it (``grader.i18n.localize``)."""
    return template


class ContractViolation(Exception):
    """The student's code broke the exercise contract (wrong return type, arity, shape ...)."""


def tensor_report(value: Any, what: str, storage: bool = False, grad: bool = True) -> WireTensor:
    """Report a tensor the student returned or touched, with its autograd metadata (and its
    ``.grad`` unless ``grad=False``: each reported tensor costs ~20 us on the wire)."""
    if not isinstance(value, _Tensor):
        raise ContractViolation(N_("{what} must be a torch.Tensor, not {type}.").format(what=what, type=type(value).__name__))
    return describe(value, grad=grad, storage=storage, copy=True)


def snapshot(value: torch.Tensor) -> torch.Tensor:
    """A detached copy taken by the driver, e.g. of an input before the student sees it."""
    return _clone(_detach(value))


def as_float(value: Any, what: str) -> float:
    """Accept a Python number, a numpy scalar or a one-element tensor; anything else violates."""
    if isinstance(value, (bool, str, bytes)):
        raise ContractViolation(N_("{what} must be a number, not {type}.").format(what=what, type=type(value).__name__))
    if isinstance(value, _Tensor):
        if value.numel() != 1:
            raise ContractViolation(N_("{what} must be a single number, got a tensor of shape {shape}.")
                                    .format(what=what, shape=tuple(value.shape)))
        return float(_detach(value).reshape(()).item())
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ContractViolation(N_("{what} must be a number, not {type}.").format(what=what, type=type(value).__name__)) from None
    return number


def type_name(value: Any) -> str:
    cls = type(value)
    return cls.__name__ if cls.__module__ == "builtins" else f"{cls.__module__}.{cls.__name__}"


def model_report(model: torch.nn.Module, what: str = "model", grads: bool = False) -> list[WireTensor]:
    """Every parameter of the model (in ``parameters()`` order), with gradients if asked."""
    return [tensor_report(p, f"{what} parameter {i}", grad=grads)
            for i, p in enumerate(model.parameters())]


def float_or_none(value: Any, what: str) -> float | None:
    """``value`` as a number if it is one, else None (an invariant judges its type)."""
    try:
        return as_float(value, what)
    except ContractViolation:
        return None


def use_layout(model: torch.nn.Module, layout: str) -> None:
    """Replace every parameter by one with the same values in ``layout`` (e.g. transposed)."""
    if layout == "contiguous":
        return
    for module in model.modules():
        for name, param in list(module.named_parameters(recurse=False)):
            setattr(module, name, torch.nn.Parameter(specs.make_leaf(param.detach(), layout)))


@contextlib.contextmanager
def recorded_warnings() -> Iterator[list[dict[str, str]]]:
    """Collect the warnings raised inside the block as plain data ``{category, message}``."""
    caught: list[dict[str, str]] = []
    with warnings.catch_warnings(record=True) as records:
        warnings.simplefilter("always")
        try:
            yield caught
        finally:
            caught += [{"category": w.category.__name__, "message": str(w.message)[:500]}
                       for w in records]


@contextlib.contextmanager
def tracked_optimizers() -> Iterator[list[torch.optim.Optimizer]]:
    """Every ``torch.optim.Optimizer`` created inside the block (the student's own included)."""
    created: list[torch.optim.Optimizer] = []
    original = torch.optim.Optimizer.__init__

    def recording_init(optimizer: torch.optim.Optimizer, *args: Any, **kwargs: Any) -> None:
        created.append(optimizer)
        original(optimizer, *args, **kwargs)

    torch.optim.Optimizer.__init__ = recording_init
    try:
        yield created
    finally:
        torch.optim.Optimizer.__init__ = original


def optimizer_tensors(optimizer: torch.optim.Optimizer) -> list[torch.Tensor]:
    return [p for group in optimizer.param_groups for p in group["params"]]


class NoIPython:
    """``get_ipython()`` for submitted notebooks: magics, shell and help lines do nothing,
    except the timing magics, which run their code (once) as IPython would."""

    RUNS_CODE = frozenset({"time", "timeit", "prun", "capture"})

    def run_line_magic(self, name: str, line: str, _stack_depth: int = 1) -> None:
        if name in self.RUNS_CODE and line.strip():
            caller = sys._getframe(1)
            exec(compile(line, "<magic>", "exec"), caller.f_globals, caller.f_locals)

    def run_cell_magic(self, name: str, line: str, cell: str) -> None:
        if name in self.RUNS_CODE:
            caller = sys._getframe(1)
            exec(compile(cell, "<cell magic>", "exec"), caller.f_globals, caller.f_locals)

    def system(self, command: str) -> None:
        return None

    def getoutput(self, command: str) -> list[str]:
        return []

    def __getattr__(self, name: str) -> Any:
        return lambda *args, **kwargs: None


_NO_IPYTHON = NoIPython()


def no_ipython() -> NoIPython:
    return _NO_IPYTHON


def display(*objects: Any, **options: Any) -> None:
    """IPython's ``display()`` for notebooks graded outside Jupyter: print the objects."""
    print(*objects)


build_model = specs.model_from_spec
build_optimizer = specs.build_optimizer
