"""The recorder itself: installed around one driver call, it hooks torch and hands out the report.

While it is active, a :class:`torch.overrides.TorchFunctionMode` sees every torch call the code
makes (handled by :class:`~.tracking.CallTracking`, whose backward() calls start a walk of
:class:`~.walk.GraphWalk`), and global hooks see every module forward and every optimizer
creation and step. Everything it installs is removed on exit, even when the student's code
raised; then the report is built (:mod:`.report`) and every reference to the student's objects
dropped.
"""

from __future__ import annotations

import warnings
from typing import Any

from torch.nn.modules.module import register_module_forward_pre_hook
from torch.optim.optimizer import register_optimizer_step_pre_hook
from torch.overrides import TorchFunctionMode

from .frames import StudentFrames
from .report import ReportBuilder
from .snapshot import Candidate, Snapshot
from .tables import MAX_MODULES, MAX_NAMES, alive
from .tensors import Optimizer, named_tensors
from .tracking import CallTracking
from .walk import GraphWalk


class GraphRecorder(CallTracking, GraphWalk, StudentFrames):
    """``with GraphRecorder(args, student_file) as recorder: driver_function(...)``, then
    ``recorder.report()``. ``student_file`` is the submission's file name: names are read from
    its frames, and only ops run from them count as the student's (``None``: any caller)."""

    def __init__(self, args: Any, student_file: str | None = None):
        self.student_file = student_file
        self.arg_names: list[tuple[str, Any]] = []
        self._args = args
        self.backward_calls = 0
        self.snapshot: Snapshot | None = None
        self.root_info: dict[str, Any] | None = None
        self.modules: list[Any] = []
        self.optimizers: list[Any] = []
        self._tags: dict[int, tuple[Any, frozenset]] = {}
        self._grad_owner: dict[int, Any] = {}  # tag number -> leaf whose .grad was read
        self._grad_tag: dict[int, tuple[Any, int]] = {}  # id(leaf) -> (leaf, its tag)
        self._candidates: dict[int, Candidate] = {}  # tag number -> candidate
        self._next_tag = 0
        self._cut_links: dict[int, tuple[Any, tuple[int, ...]]] = {}  # id(fn) -> (fn, tags)
        self._rebinds: dict[int, tuple[Any, Any]] = {}  # id(fn) -> (fn, leaf)
        self._produced: dict[int, Any] = {}  # id(fn) -> fn, results not consumed yet
        self._rebound_since: dict[int, Any] = {}  # ... of them, rebindings since the last backward
        self._updates: list[tuple[str, Any]] = []  # in-place no_grad updates of leaves
        self._non_leaf_reads: list[tuple[Any, str | None]] = []  # (grad_fn, name)
        self._made_leaves: dict[int, tuple[Any, str]] = {}  # id -> (weakref, maker): leaves the student made
        self._local_names: dict[int, tuple[Any, str]] = {}  # id -> (weakref, name), leaves
        self._module_names: dict[int, tuple[Any, str]] = {}  # id -> (weakref, name)
        self._mode: _Mode | None = None
        self._handles: list[Any] = []
        self._original_init: Any = None
        self._busy = False
        self._closed = False
        self._report: dict[str, Any] | None = None
        self._warnings: Any = None

    # ------------------------------------------------------------------ activation
    def __enter__(self) -> "GraphRecorder":
        # A re-run for display: its warnings repeat the first run's (and would name this file).
        self._warnings = warnings.catch_warnings()
        self._warnings.__enter__()
        warnings.simplefilter("ignore")
        try:
            self.arg_names = named_tensors(self._args)
        except Exception:  # noqa: BLE001
            self.arg_names = []
        self._args = None
        try:
            self._install()
        except BaseException:
            self._uninstall()
            self._warnings.__exit__(None, None, None)
            raise
        return self

    def __exit__(self, *exc_info: Any) -> bool:
        self._uninstall()
        self._warnings.__exit__(None, None, None)
        try:
            self._report = self._build_report()
        except Exception:  # noqa: BLE001 - a report with what we have
            self._report = self._empty_report()
        self._release()
        return False

    def report(self) -> dict[str, Any]:
        return self._report if self._report is not None else self._empty_report()

    def _install(self) -> None:
        original_init = Optimizer.__init__
        recorder = self

        def recording_init(optimizer: Any, *args: Any, **kwargs: Any) -> None:
            original_init(optimizer, *args, **kwargs)
            recorder._seen_optimizer(optimizer)

        self._original_init = original_init
        Optimizer.__init__ = recording_init
        self._handles.append(register_module_forward_pre_hook(self._module_hook))
        self._handles.append(register_optimizer_step_pre_hook(self._step_hook))
        self._mode = _Mode(self)
        self._mode.__enter__()

    def _uninstall(self) -> None:
        self._closed = True
        if self._mode is not None:
            try:
                self._mode.__exit__(None, None, None)
            except Exception:  # noqa: BLE001 - the student may have left its own mode behind
                pass
        for handle in self._handles:
            try:
                handle.remove()
            except Exception:  # noqa: BLE001
                pass
        if self._original_init is not None:
            Optimizer.__init__ = self._original_init

    def _release(self) -> None:
        """Drop every reference to the student's objects once the report is plain data."""
        self.snapshot = None
        self.modules, self.optimizers, self.arg_names = [], [], []
        for table in (self._tags, self._grad_owner, self._grad_tag, self._candidates, self._cut_links,
                      self._rebinds, self._produced, self._rebound_since, self._made_leaves,
                      self._local_names):
            table.clear()
        self._updates, self._non_leaf_reads = [], []

    # ------------------------------------------------------------------ hooks
    def _module_hook(self, module: Any, inputs: Any) -> None:
        if self._closed or len(self.modules) >= MAX_MODULES:
            return None
        if not any(m is module for m in self.modules):
            self.modules.append(module)
        return None

    def _step_hook(self, optimizer: Any, args: Any, kwargs: Any) -> None:
        if not self._closed:
            self._seen_optimizer(optimizer)
        return None

    def _seen_optimizer(self, optimizer: Any) -> None:
        if not self._closed and len(self.optimizers) < 16 and not any(o is optimizer for o in self.optimizers):
            self.optimizers.append(optimizer)

    # ------------------------------------------------------------------ the report
    def _empty_report(self) -> dict[str, Any]:
        return {"root": {"label": "loss", "node": None, "requires_grad": False, "shape": None},
                "backward_calls": self.backward_calls, "nodes": [], "edges": [], "cuts": [],
                "reached": [], "unreached": [], "truncated": True}

    def _build_report(self) -> dict[str, Any]:
        snap = self.snapshot
        if snap is None:
            snap = self._forest()
        else:
            self._add_rebound_after(snap)
        builder = ReportBuilder(self, snap)
        return builder.build()

    def param_names(self) -> list[tuple[str, Any]]:
        """``model.<name>`` for the parameters of the outermost modules the code called."""
        modules = list(self.modules)
        inner: set[int] = set()
        for module in modules:
            try:
                inner |= {id(m) for m in module.modules() if m is not module}
            except Exception:  # noqa: BLE001
                pass
        named: list[tuple[str, Any]] = []
        seen: set[int] = set()
        count = 0
        for module in modules:
            if id(module) in inner:
                continue
            count += 1
            prefix = alive(self._module_names, module) or ("model" if count == 1 else f"model_{count}")
            try:
                for key, param in module.named_parameters():
                    if id(param) not in seen and len(named) < MAX_NAMES:
                        seen.add(id(param))
                        named.append((f"{prefix}.{key}", param))
            except Exception:  # noqa: BLE001
                pass
        return named


class _Mode(TorchFunctionMode):
    """Hands every torch call to the recorder, except its own (busy) and those after exit."""

    def __init__(self, recorder: GraphRecorder):
        super().__init__()
        self.recorder = recorder

    def __torch_function__(self, func: Any, types: Any, args: tuple = (), kwargs: dict | None = None) -> Any:
        kwargs = kwargs or {}
        recorder = self.recorder
        if recorder._closed or recorder._busy:
            return func(*args, **kwargs)
        return recorder.on_call(func, args, kwargs)


