"""Sandbox side of "show the student's autograd graph": record what one driver call builds.

:class:`GraphRecorder` is active only around a call the trusted side asked to see the graph
of (a failing gradient-flow check). While it is active, a :class:`torch.overrides.TorchFunctionMode`
sees every torch call the code makes, and global hooks see every module forward and every
optimizer step. From that it learns:

- the root of every ``backward()`` / ``torch.autograd.backward()`` / ``torch.autograd.grad()``:
  all three dispatch through the mode (no function is patched, so an alias imported with
  ``from torch.autograd import grad`` is seen too), and the graph is walked *before* the
  original runs: it must be seen even when that backward raises;
- where the chain was cut: a ``.detach()`` / ``.data`` of a tensor that requires grad, an op on
  such a tensor under ``torch.no_grad()``, a ``w = w - lr * w.grad`` rebinding (an op that
  combines a leaf with a value computed from that leaf's own ``.grad``), a ``.grad`` read on a
  non-leaf. Such events are *candidates*: the value they produce is tagged, the tags follow
  the values that do not require grad, and a candidate becomes a cut only when a tagged value
  feeds the graph that is finally walked (so a ``loss.detach()`` for logging never shows up);
- names: tensors in the call's arguments by their path (``w0``, ``params[1]``), parameters of
  the outermost modules used by ``model.<named_parameters name>``, other tensors by the
  student's local variable names (read from the student's frames at backward time);
- the optimizers created or stepped, and which tensors they hold.

:meth:`GraphRecorder.report` is plain data only (see ``grader.engine.graph`` for the schema and
the trusted-side validation). Nothing here may raise into the student's code path: every
inspection is guarded, and a failure just leaves the report with what it has.
"""

from __future__ import annotations

import os
import sys
import warnings
import weakref
from typing import Any, Iterator

import torch
from torch.nn.modules.module import register_module_forward_pre_hook
from torch.optim.optimizer import register_optimizer_step_pre_hook
from torch.overrides import TorchFunctionMode

import grader

MAX_NODES = 200
MAX_EDGES = 600
MAX_CUTS = 40
MAX_LABEL = 80
MAX_TEXT = 300
MAX_NAMES = 200
MAX_CANDIDATES = 64  # the most recent ones are kept
MAX_TAGGED = 20_000  # tensors carrying a tag at one time (dead ones are purged)
MAX_LINKS = 1024  # grad_fn -> cut candidates / rebound leaves, the most recent kept
MAX_PRODUCED = 32  # grad_fn results kept for a call without backward()
MAX_UPDATES = 32
MAX_MODULES = 64
MAX_ARG_TENSORS = 512
STACK_DEPTH = 64

# Read tensors through the immutable C base class, as the wire does: the student may have
# patched torch.Tensor.
_TensorBase = torch._C.TensorBase
_Tensor = torch.Tensor
_requires_grad = _TensorBase.requires_grad.__get__
_is_leaf = _TensorBase.is_leaf.__get__
_grad_fn_of = _TensorBase.grad_fn.__get__
_retains_grad = _TensorBase.retains_grad.__get__
_size = _TensorBase.size
_is_grad_enabled = torch.is_grad_enabled
_Module = torch.nn.Module
_Optimizer = torch.optim.Optimizer
_autograd_backward = torch.autograd.backward
_autograd_grad = torch.autograd.grad
_Tensor_backward = torch.Tensor.backward

_HERE = os.path.abspath(__file__)
_GRADER_DIR = os.path.dirname(os.path.abspath(grader.__file__)) + os.sep
_OPTIM_DIR = os.path.dirname(os.path.abspath(torch.optim.__file__)) + os.sep
_DETACH = frozenset({"detach", "detach_"})
_NOT_UPDATES = frozenset({"requires_grad_", "detach_", "share_memory_"})  # in place, values unchanged
_GETTER = "."  # prefix of a property read: ".grad", ".data"


class _Candidate:
    """A place where the chain may have been cut; a cut only if its tag reaches the graph."""

    __slots__ = ("kind", "what", "sources", "shape", "leaf", "outputs", "name")

    def __init__(self, kind: str, what: str, sources: list[Any], shape: list[int] | None,
                 leaf: Any = None):
        self.kind, self.what, self.sources, self.shape, self.leaf = kind, what, sources, shape, leaf
        self.outputs: list[Any] = []  # weak references to the values it produced
        self.name: str | None = None  # the student's name for such a value, e.g. "pred"


class _Node:
    __slots__ = ("kind", "obj", "label", "name", "shape")

    def __init__(self, kind: str, obj: Any, label: str = "", name: str | None = None,
                 shape: list[int] | None = None):
        self.kind, self.obj, self.label, self.name, self.shape = kind, obj, label, name, shape


class _Snapshot:
    """The graph of one backward root, as Python objects (turned into plain data at the end)."""

    def __init__(self) -> None:
        self.nodes: list[_Node] = []
        self.index: dict[int, int] = {}  # id(grad_fn / leaf tensor / candidate) -> node id
        self.edges: list[tuple[int, int]] = []
        self.edge_set: set[tuple[int, int]] = set()
        self.cut_links: list[tuple[int, int, _Candidate]] = []  # (parent, node, candidate)
        self.rebound: list[tuple[int, Any]] = []  # (op node, leaf tensor it was computed from)
        self.fn_names: dict[int, tuple[Any, str]] = {}  # id(grad_fn) -> (grad_fn, the student's name)
        self.root: int | None = None
        self.roots: list[int] = []  # without backward(): every top of the forest
        self.truncated = False


class GraphRecorder:
    """``with GraphRecorder(args, student_file) as recorder: driver_function(...)``, then
    ``recorder.report()``. ``student_file`` is the submission's file name: names are read from
    its frames, and only ops run from them count as the student's (``None``: any caller)."""

    def __init__(self, args: Any, student_file: str | None = None):
        self.student_file = student_file
        self.arg_names: list[tuple[str, Any]] = []
        self._args = args
        self.backward_calls = 0
        self.snapshot: _Snapshot | None = None
        self.root_info: dict[str, Any] | None = None
        self.modules: list[Any] = []
        self.optimizers: list[Any] = []
        self._tags: dict[int, tuple[Any, frozenset]] = {}
        self._grad_owner: dict[int, Any] = {}  # tag number -> leaf whose .grad was read
        self._grad_tag: dict[int, tuple[Any, int]] = {}  # id(leaf) -> (leaf, its tag)
        self._candidates: dict[int, _Candidate] = {}  # tag number -> candidate
        self._next_tag = 0
        self._cut_links: dict[int, tuple[Any, tuple[int, ...]]] = {}  # id(fn) -> (fn, tags)
        self._rebinds: dict[int, tuple[Any, Any]] = {}  # id(fn) -> (fn, leaf)
        self._produced: dict[int, Any] = {}  # id(fn) -> fn, results not consumed yet
        self._rebound_since: dict[int, Any] = {}  # ... of them, rebindings since the last backward
        self._updates: list[tuple[str, Any]] = []  # in-place no_grad updates of leaves
        self._non_leaf_reads: list[tuple[Any, str | None]] = []  # (grad_fn, name)
        self._made_leaves: dict[int, Any] = {}  # id -> weakref: leaves the student made
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
            self.arg_names = _named_tensors(self._args)
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
        original_init = _Optimizer.__init__
        recorder = self

        def recording_init(optimizer: Any, *args: Any, **kwargs: Any) -> None:
            original_init(optimizer, *args, **kwargs)
            recorder._seen_optimizer(optimizer)

        self._original_init = original_init
        _Optimizer.__init__ = recording_init
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
            _Optimizer.__init__ = self._original_init

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

    # ------------------------------------------------------------------ torch calls
    def on_call(self, func: Any, args: tuple, kwargs: dict) -> Any:
        """The mode's handler: run the call, then look at what it did (never raising)."""
        name = _func_name(func)
        before = None
        if func is _Tensor_backward or func is _autograd_backward or func is _autograd_grad:
            self._guarded(self._on_backward, args[0] if args else kwargs.get("outputs", kwargs.get("tensors")))
        elif name in _DETACH:
            before = self._guarded(_source_of, args[0] if args else None)
        grad_on = _is_grad_enabled()
        result = func(*args, **kwargs)
        if not self._busy:
            self._busy = True
            try:
                self._after(name, args, kwargs, result, grad_on, before)
            except Exception:  # noqa: BLE001 - never into the student's code path
                pass
            finally:
                self._busy = False
        return result

    def _guarded(self, function: Any, *args: Any) -> Any:
        if self._busy:
            return None
        self._busy = True
        try:
            return function(*args)
        except Exception:  # noqa: BLE001
            return None
        finally:
            self._busy = False

    def _after(self, name: str, args: tuple, kwargs: dict, result: Any, grad_on: bool,
               before: Any) -> None:
        if name.startswith(_GETTER):
            self._after_getter(name, args, result)
            return
        inputs = _tensors_in(args, kwargs)
        outputs = _tensors_in((result,), {}) if not isinstance(result, _Tensor) else [result]
        if not outputs:
            return
        tags: set[int] = set()
        for tensor in inputs:
            tags |= self._tags_of(tensor)
        grad_inputs = [t for t in inputs if _requires_grad(t)]
        if kwargs.get("requires_grad") is True or name == "requires_grad_":
            self._remember_made_leaves(outputs)
        new = self._new_candidate(name, inputs, grad_inputs, outputs, tags, grad_on, before)
        if new is not None:
            tags.add(new)
            self._candidates[new].outputs = [weakref.ref(o) for o in outputs[:4]]
        if (not grad_on and name.endswith("_") and name not in _NOT_UPDATES and grad_inputs
                and grad_inputs[0] is inputs[0]):
            self._remember_update(name, inputs[0])
        for output in outputs:
            self._follow(output, inputs, grad_inputs, tags)

    def _after_getter(self, name: str, args: tuple, result: Any) -> None:
        owner = args[0] if args else None
        if not isinstance(owner, _Tensor):
            return
        if name == ".grad":
            if _is_leaf(owner):
                if isinstance(result, _Tensor):
                    self._set_tags(result, self._tags_of(result) | {self._grad_tag_of(owner)})
            elif not _retains_grad(owner):
                fn = _grad_fn_of(owner)
                if fn is not None and len(self._non_leaf_reads) < 16 and self._from_student():
                    self._non_leaf_reads.append((fn, self._local_name_of(owner)))
        elif name == ".data" and isinstance(result, _Tensor) and _requires_grad(owner):
            if self._from_student():
                tag = self._add_candidate(_Candidate("detach", ".data", [_source_of(owner)],
                                                     _shape_of(owner)))
                self._candidates[tag].outputs = [weakref.ref(result)]
                self._set_tags(result, self._tags_of(result) | {tag})

    def _new_candidate(self, name: str, inputs: list, grad_inputs: list, outputs: list,
                       tags: set[int], grad_on: bool, before: Any) -> int | None:
        if name in _DETACH and before is not None:
            if not self._from_student():
                return None
            return self._add_candidate(_Candidate("detach", name, [before], _shape_of(inputs[0])))
        if grad_on or not grad_inputs or name.endswith("_"):
            return None
        if any(_requires_grad(o) for o in outputs) or not self._from_student():
            return None
        leaf = self._rebound_leaf(grad_inputs, tags)
        kind = "rebound" if leaf is not None else "no-grad"
        return self._add_candidate(_Candidate(kind, name, [_source_of(t) for t in grad_inputs[:8]],
                                              _shape_of(outputs[0]), leaf))

    def _follow(self, output: Any, inputs: list, grad_inputs: list, tags: set[int]) -> None:
        """Carry the tags to an output that does not require grad; link them to one that does."""
        fn = _grad_fn_of(output) if _requires_grad(output) else None
        if fn is None:
            if tags and not _requires_grad(output):
                self._set_tags(output, self._tags_of(output) | tags)
            return
        cut_tags = tuple(sorted(t for t in tags if t in self._candidates))
        if cut_tags:
            _bounded_put(self._cut_links, id(fn), (fn, cut_tags), MAX_LINKS)
        leaf = self._rebound_leaf(grad_inputs, tags)
        if leaf is not None:
            _bounded_put(self._rebinds, id(fn), (fn, leaf), MAX_LINKS)
            _bounded_put(self._rebound_since, id(fn), fn, MAX_PRODUCED)
            if self.local_leaf_name(leaf) is None:
                self._stack_names()  # learn the leaf's name while the student's frame holds it
        for tensor in inputs:
            consumed = _grad_fn_of(tensor)
            if consumed is not None:
                self._produced.pop(id(consumed), None)
                self._rebound_since.pop(id(consumed), None)
        _bounded_put(self._produced, id(fn), fn, MAX_PRODUCED)

    def _rebound_leaf(self, grad_inputs: list, tags: set[int]) -> Any:
        """The leaf L if the op combined L with a value computed from ``L.grad``."""
        for tag in tags:
            owner = self._grad_owner.get(tag)
            if owner is not None and any(t is owner for t in grad_inputs):
                return owner
        return None

    # ------------------------------------------------------------------ tags
    def _new_tag(self) -> int:
        self._next_tag += 1
        return self._next_tag

    def _grad_tag_of(self, leaf: Any) -> int:
        """One tag per leaf for "computed from this leaf's .grad"."""
        entry = self._grad_tag.get(id(leaf))
        if entry is not None and entry[0] is leaf:
            return entry[1]
        if len(self._grad_tag) >= MAX_TAGGED:
            return 0  # no owner: never a rebinding
        tag = self._new_tag()
        self._grad_owner[tag] = leaf
        self._grad_tag[id(leaf)] = (leaf, tag)
        return tag

    def _add_candidate(self, candidate: _Candidate) -> int:
        tag = self._new_tag()
        _bounded_put(self._candidates, tag, candidate, MAX_CANDIDATES)
        return tag

    def _tags_of(self, tensor: Any) -> frozenset:
        entry = self._tags.get(id(tensor))
        if entry is None or entry[0]() is not tensor:
            return frozenset()
        return entry[1]

    def _set_tags(self, tensor: Any, tags: frozenset | set) -> None:
        if len(self._tags) >= MAX_TAGGED:
            self._tags = {k: v for k, v in self._tags.items() if v[0]() is not None}
            if len(self._tags) >= MAX_TAGGED:
                return
        self._tags[id(tensor)] = (weakref.ref(tensor), frozenset(tags))

    def _remember_made_leaves(self, outputs: list) -> None:
        """Leaves the student's code made (``requires_grad_()``, ``requires_grad=True``), with
        the name of the function that made them."""
        maker = self._student_function()
        if maker is None:
            return
        for output in outputs:
            if _is_leaf(output) and _requires_grad(output) and len(self._made_leaves) < MAX_NAMES:
                self._made_leaves[id(output)] = (weakref.ref(output), maker)

    def _student_function(self) -> str | None:
        """The innermost student function on the stack ("" outside the sandbox's checks of
        student code, when any caller counts), or None when the call is not the student's."""
        if not self._from_student():
            return None
        frame = next(self._student_frames(), None)
        return frame.f_code.co_name if frame is not None else ""

    def _remember_update(self, name: str, leaf: Any) -> None:
        if (_is_leaf(leaf) and len(self._updates) < MAX_UPDATES
                and not any(t is leaf for _, t in self._updates) and self._from_student()):
            self._updates.append((name, leaf))
            if self.local_leaf_name(leaf) is None:
                self._stack_names()

    # ------------------------------------------------------------------ the student's frames
    def _student_frames(self) -> Iterator[Any]:
        if self.student_file is None:
            return
        frame = sys._getframe(1)
        found = 0
        for _ in range(STACK_DEPTH):
            if frame is None or found >= 4:
                return
            if frame.f_code.co_filename == self.student_file:
                found += 1
                yield frame
            frame = frame.f_back

    def _from_student(self) -> bool:
        """Was the current torch call made by the student's code (not an optimizer, not the
        driver)? The first frame that decides, going outwards, wins."""
        frame = sys._getframe(1)
        for _ in range(STACK_DEPTH):
            if frame is None:
                break
            filename = frame.f_code.co_filename
            if filename == self.student_file:
                return True
            if filename != _HERE and (filename.startswith(_OPTIM_DIR) or filename.startswith(_GRADER_DIR)):
                return False
            frame = frame.f_back
        return self.student_file is None

    def _stack_names(self) -> list[tuple[str, Any]]:
        """(name, tensor) for the tensors the student's frames hold; remembers the leaves and
        modules among them (a leaf keeps the first name it was seen under)."""
        named: list[tuple[str, Any]] = []
        for frame in self._student_frames():
            for key, value in list(frame.f_locals.items())[:200]:
                if not isinstance(key, str):
                    continue
                if isinstance(value, _Tensor):
                    named.append((key, value))
                elif isinstance(value, (list, tuple)) and len(value) <= 64:
                    named += [(f"{key}[{i}]", v) for i, v in enumerate(value) if isinstance(v, _Tensor)]
                elif isinstance(value, _Module) and _alive(self._module_names, value) is None:
                    self._module_names[id(value)] = (weakref.ref(value), key)
        for key, tensor in named:
            if (_is_leaf(tensor) and _alive(self._local_names, tensor) is None
                    and len(self._local_names) < MAX_NAMES):
                self._local_names[id(tensor)] = (weakref.ref(tensor), key)
        return named

    def _local_name_of(self, tensor: Any) -> str | None:
        for key, value in self._stack_names():
            if value is tensor:
                return key
        return None

    # ------------------------------------------------------------------ backward roots
    def _on_backward(self, tensors: Any) -> None:
        self.backward_calls += 1
        self._rebound_since.clear()
        root = tensors
        if isinstance(tensors, (list, tuple)):
            root = next((t for t in tensors if isinstance(t, _Tensor)), None)
        if not isinstance(root, _Tensor):
            return
        named = self._stack_names()
        snap = _Snapshot()
        _name_ops(snap, named)
        self._name_candidates(named)
        root_name = next((key for key, tensor in named if tensor is root), None)
        fn = _grad_fn_of(root)
        if fn is not None:
            snap.root = self._walk(snap, ("fn", fn))
        else:
            snap.root = self._walk(snap, ("root", root))
        self.snapshot = snap
        self.root_info = {"label": root_name or "loss", "requires_grad": bool(_requires_grad(root)),
                          "shape": _shape_of(root), "leaf": root}

    def _name_candidates(self, named: list[tuple[str, Any]]) -> None:
        """``pred`` for the detach whose result the student called ``pred``."""
        for candidate in self._candidates.values():
            if candidate.name is None:
                for key, tensor in named:
                    if any(ref() is tensor for ref in candidate.outputs):
                        candidate.name = key
                        break

    def _walk(self, snap: _Snapshot, start: tuple[str, Any]) -> int | None:
        """Add ``start`` and everything below it (autograd edges, then cut links)."""
        first, created = self._node(snap, start)
        if first is None:
            return None
        stack = [first] if created else []
        while stack:
            parent = stack.pop()
            fresh: list[int] = []
            for child in self._children(snap, parent):
                node, new = self._node(snap, child)
                if node is None:
                    continue
                self._edge(snap, parent, node)
                if new:
                    fresh.append(node)
            for candidate in self._links_of(snap, parent):
                node, new = self._node(snap, ("cut", candidate))
                if node is None:
                    continue
                if not any(p == parent and n == node for p, n, _ in snap.cut_links):
                    snap.cut_links.append((parent, node, candidate))
                if new:
                    fresh.append(node)
            stack.extend(reversed(fresh))
        return first

    def _node(self, snap: _Snapshot, start: tuple[str, Any]) -> tuple[int | None, bool]:
        kind, obj = start
        if kind == "fn" and type(obj).__name__ == "AccumulateGrad":
            kind, obj = "leaf", getattr(obj, "variable", None)
            if not isinstance(obj, _Tensor):
                return None, False
        if kind == "cut" and obj.kind == "detach":
            return self._node(snap, obj.sources[0]) if obj.sources and obj.sources[0] else (None, False)
        key = id(obj)
        if key in snap.index:
            return snap.index[key], False
        if len(snap.nodes) >= MAX_NODES:
            snap.truncated = True
            return None, False
        snap.index[key] = len(snap.nodes)
        snap.nodes.append(_Node(kind, obj))
        return snap.index[key], True

    def _children(self, snap: _Snapshot, node_id: int) -> list[tuple[str, Any]]:
        node = snap.nodes[node_id]
        if node.kind == "fn":
            return [("fn", f) for f, _ in getattr(node.obj, "next_functions", ()) if f is not None]
        if node.kind in ("cut", "update"):
            return [s for s in node.obj.sources if s is not None]
        return []

    def _links_of(self, snap: _Snapshot, node_id: int) -> list[_Candidate]:
        node = snap.nodes[node_id]
        tags: tuple[int, ...] = ()
        if node.kind == "fn":
            linked = self._cut_links.get(id(node.obj))
            if linked is not None and linked[0] is node.obj:
                tags = linked[1]
            rebound = self._rebinds.get(id(node.obj))
            if rebound is not None and rebound[0] is node.obj:
                snap.rebound.append((node_id, rebound[1]))
        elif node.kind == "root":
            tags = tuple(sorted(self._tags_of(node.obj)))
        return [self._candidates[t] for t in tags if t in self._candidates]

    def _edge(self, snap: _Snapshot, parent: int, child: int) -> None:
        if (parent, child) in snap.edge_set:
            return
        if len(snap.edges) >= MAX_EDGES:
            snap.truncated = True
            return
        snap.edge_set.add((parent, child))
        snap.edges.append((parent, child))

    def _forest(self) -> _Snapshot:
        """No backward() ran: the results the code computed with autograd recording (never
        used by a later op) and the in-place updates it made under no_grad."""
        snap = _Snapshot()
        for fn in list(self._produced.values()):
            node = self._walk(snap, ("fn", fn))
            if node is not None and node not in snap.roots:
                snap.roots.append(node)
        for name, leaf in self._updates:
            node = self._walk(snap, ("update", _Candidate("update", name, [("leaf", leaf)],
                                                          _shape_of(leaf))))
            if node is not None:
                snap.roots.append(node)
        return snap

    def _add_rebound_after(self, snap: _Snapshot) -> None:
        """Rebindings made after the last backward() and never used again (``w = w - lr *
        w.grad`` after a single backward): their results are what the call returns, so they
        are shown as trees of their own beside the root."""
        for fn in list(self._rebound_since.values()):
            if id(fn) in snap.index:
                continue
            node = self._walk(snap, ("fn", fn))
            if node is not None:
                snap.roots.append(node)

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
        builder = _ReportBuilder(self, snap)
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
            prefix = _alive(self._module_names, module) or ("model" if count == 1 else f"model_{count}")
            try:
                for key, param in module.named_parameters():
                    if id(param) not in seen and len(named) < MAX_NAMES:
                        seen.add(id(param))
                        named.append((f"{prefix}.{key}", param))
            except Exception:  # noqa: BLE001
                pass
        return named

    def local_leaf_name(self, tensor: Any) -> str | None:
        return _alive(self._local_names, tensor)

    def maker_of(self, tensor: Any) -> str | None:
        """The student's function that made this leaf ("" if unknown), None if not made there."""
        entry = self._made_leaves.get(id(tensor))
        return entry[1] if entry is not None and entry[0]() is tensor else None


class _ReportBuilder:
    """Turns a snapshot into the plain-data report, naming nodes and adding the cuts."""

    def __init__(self, recorder: GraphRecorder, snap: _Snapshot):
        self.recorder, self.snap = recorder, snap
        self.params = recorder.param_names()
        self.param_of = {id(t): name for name, t in self.params}
        self.arg_of = {id(t): name for name, t in recorder.arg_names}
        self.cuts: list[dict[str, Any]] = []
        self.cut_below: set[int] = set()

    def build(self) -> dict[str, Any]:
        snap, recorder = self.snap, self.recorder
        nodes = [self._plain_node(i, node) for i, node in enumerate(snap.nodes)]
        reached_ids = self._reached()
        reached = [n["name"] for n in nodes if n["id"] in reached_ids and n["kind"] != "op" and n["name"]
                   and snap.nodes[n["id"]].kind == "leaf"]
        self.cut_below = self._below_cuts()
        self._cut_root(nodes)
        self._cut_links(nodes)
        self._cut_rebound(nodes)
        self._cut_non_leaf_reads(nodes)
        unreached = self._unreached(nodes, reached_ids)
        self._cut_new_leaves(nodes, reached_ids, unreached)
        self._cut_optimizers(nodes, reached_ids)
        if recorder.backward_calls == 0:
            self._cut(None, "no-backward", None,
                      "No backward() or torch.autograd.grad() ran during this call. Shown: the "
                      "results your code computed with autograd recording, and the tensors it "
                      "updated in place under torch.no_grad().")
        info = recorder.root_info
        root = {"label": _cap(info["label"] if info else "no backward() call", MAX_LABEL),
                "node": snap.root, "requires_grad": bool(info["requires_grad"]) if info else False,
                "shape": info["shape"] if info else None}
        return {"root": root, "backward_calls": int(recorder.backward_calls), "nodes": nodes,
                "edges": [[a, b] for a, b in snap.edges], "cuts": self.cuts[:MAX_CUTS],
                "reached": [_cap(n, MAX_LABEL) for n in reached][:MAX_NAMES],
                "unreached": [_cap(n, MAX_LABEL) for n in unreached][:MAX_NAMES],
                "truncated": bool(snap.truncated)}

    # -------------------------------------------------------------- nodes
    def _plain_node(self, index: int, node: _Node) -> dict[str, Any]:
        kind, name, label, shape = "op", None, "", None
        if node.kind == "fn":
            label = type(node.obj).__name__
            entry = self.snap.fn_names.get(id(node.obj))
            name = entry[1] if entry is not None and entry[0] is node.obj else None
            shape = _fn_shape(node.obj)
        elif node.kind == "leaf":
            kind, name, label = self._leaf_identity(node.obj)
            shape = _shape_of(node.obj)
        elif node.kind == "root":
            kind, name, label = "leaf", (self.recorder.root_info or {}).get("label"), "no grad_fn"
            if _requires_grad(node.obj):
                made = self.recorder.maker_of(node.obj) is not None
                label = "leaf by requires_grad_(), no grad_fn" if made else "leaf, no grad_fn"
            else:
                label = "no grad_fn, no requires_grad"
            shape = _shape_of(node.obj)
        elif node.kind == "cut":
            label = f"{node.obj.what}() under torch.no_grad()"
            shape = node.obj.shape
        elif node.kind == "update":
            label = f"{node.obj.what}() in place, under torch.no_grad()"
            shape = node.obj.shape
        node.label, node.name = label, name
        return {"id": index, "kind": kind, "label": _cap(label, MAX_LABEL),
                "name": _cap(name, MAX_LABEL) if name else None,
                "shape": shape}

    def _leaf_identity(self, tensor: Any) -> tuple[str, str | None, str]:
        if id(tensor) in self.param_of:
            return "param", self.param_of[id(tensor)], "parameter"
        if id(tensor) in self.arg_of:
            return "input", self.arg_of[id(tensor)], "input"
        name = self.recorder.local_leaf_name(tensor)
        maker = self.recorder.maker_of(tensor)
        label = "leaf" if maker is None else (f"leaf made in {maker}()" if maker and maker != "<module>"
                                              else "leaf made by the code")
        return "leaf", name, label

    def _add_node(self, nodes: list, kind: str, name: str | None, label: str,
                  shape: list[int] | None) -> int | None:
        if len(nodes) >= MAX_NODES:
            self.snap.truncated = True
            return None
        nodes.append({"id": len(nodes), "kind": kind, "label": _cap(label, MAX_LABEL),
                      "name": _cap(name, MAX_LABEL) if name else None, "shape": shape})
        return len(nodes) - 1

    # -------------------------------------------------------------- reachability
    def _tops(self) -> list[int]:
        return ([self.snap.root] if self.snap.root is not None else []) + list(self.snap.roots)

    def _reached(self) -> set[int]:
        children: dict[int, list[int]] = {}
        for a, b in self.snap.edges:
            children.setdefault(a, []).append(b)
        seen: set[int] = set()
        stack = list(self._tops())
        while stack:
            node = stack.pop()
            if node in seen:
                continue
            seen.add(node)
            stack += children.get(node, [])
        return seen

    def _below_cuts(self) -> set[int]:
        children: dict[int, list[int]] = {}
        for a, b in self.snap.edges:
            children.setdefault(a, []).append(b)
        seen: set[int] = set()
        stack = [node for _, node, _ in self.snap.cut_links]
        while stack:
            node = stack.pop()
            if node not in seen:
                seen.add(node)
                stack += children.get(node, [])
        return seen

    # -------------------------------------------------------------- cuts
    def _cut(self, node: int | None, kind: str, parent: int | None, text: str) -> None:
        if len(self.cuts) < MAX_CUTS:
            self.cuts.append({"kind": kind, "node": node, "parent": parent, "text": _cap(text, MAX_TEXT)})

    def _cut_root(self, nodes: list) -> None:
        snap, info = self.snap, self.recorder.root_info
        if info is None or snap.root is None or snap.nodes[snap.root].kind != "root":
            return
        name = info["label"]
        if info["requires_grad"]:
            text = (f"{name} has no grad_fn: it was not computed from anything that requires grad, "
                    "and requires_grad_() only made it a new leaf, so backward() stops at "
                    f"{name} itself and reaches no parameter.")
        else:
            text = (f"{name} has no grad_fn and does not require grad: it was not computed from "
                    "anything that requires grad, so backward() has no graph to go through "
                    "(it raises).")
        self._cut(snap.root, "no-grad-fn", None, text)

    def _cut_links(self, nodes: list) -> None:
        for parent, node, candidate in self.snap.cut_links:
            self._cut(node, candidate.kind, parent, self._link_text(nodes[node], candidate))

    def _link_text(self, node: dict[str, Any], candidate: _Candidate) -> str:
        name = candidate.name
        if candidate.kind == "detach":
            call = ".data" if candidate.what == ".data" else f".{candidate.what}()"
            shape = _shape_text(candidate.shape)
            head = (f"{name} is {call} of {_describe(node)}, shape {shape}: it has" if name
                    else f"{call} of {_describe(node)}, shape {shape}, cuts the graph here: the result has")
            return (f"{head} no grad_fn, so backward() does not go below it and nothing under it "
                    "gets a gradient.")
        if candidate.kind == "rebound":
            leaf = self._leaf_name(candidate.leaf)
            return (f"A new tensor computed from the leaf {leaf} and its .grad under torch.no_grad() "
                    "(the `w = w - lr * w.grad` pattern): it does not require grad, the leaf itself "
                    "is not updated, and what is computed from the new tensor is connected to no "
                    "parameter.")
        head = f"{name} was computed by" if name else "The result of"
        return (f"{head} {candidate.what}() under torch.no_grad() from tensors that require grad: "
                "it has no grad_fn, so backward() stops there and what it was computed from "
                "gets no gradient.")

    def _cut_rebound(self, nodes: list) -> None:
        for op_node, leaf in self.snap.rebound:
            leaf_node = self.snap.index.get(id(leaf))
            if leaf_node is None:
                continue
            leaf_name = f"the leaf {nodes[leaf_node]['name']}" if nodes[leaf_node]["name"] else "a leaf"
            op = nodes[op_node]
            if op["name"] and op["name"] == nodes[leaf_node]["name"]:
                head = (f"{op['name']} is now a new tensor ({op['label']}) computed from the earlier "
                        f"leaf {op['name']} and its .grad")
            else:
                new = f"{op['name']} ({op['label']})" if op["name"] else op["label"]
                head = f"{new} is a new tensor computed from {leaf_name} and its .grad"
            text = (f"{head} (the `w = w - lr * w.grad` pattern): the leaf itself is never updated, "
                    "and the new tensor is not a leaf, so backward() leaves its .grad None.")
            self._cut(leaf_node, "rebound", op_node, text)

    def _cut_non_leaf_reads(self, nodes: list) -> None:
        done: set[int] = set()
        for fn, name in self.recorder._non_leaf_reads:
            node = self.snap.index.get(id(fn))
            if node is None or node in done:
                continue
            done.add(node)
            label = name or nodes[node]["name"]
            fn = nodes[node]["label"]
            if label:
                text = (f"{label}.grad was read, but {label} is not a leaf ({fn}): backward() fills "
                        f".grad only for leaves. Call {label}.retain_grad() before backward(), or "
                        "use torch.autograd.grad.")
            else:
                text = (f"The .grad of a tensor that is not a leaf ({fn}) was read: backward() fills "
                        ".grad only for leaves. Call retain_grad() on it before backward(), or use "
                        "torch.autograd.grad.")
            self._cut(node, "non-leaf-grad", None, text)

    def _unreached(self, nodes: list, reached_ids: set[int]) -> list[str]:
        reached_tensors = {id(self.snap.nodes[i].obj) for i in reached_ids if i < len(self.snap.nodes)}
        candidates = list(self.params) + [(n, t) for n, t in self.recorder.arg_names if _requires_grad(t)]
        unreached: list[str] = []
        for name, tensor in candidates:
            if id(tensor) in reached_tensors or name in unreached:
                continue
            unreached.append(name)
            node = self.snap.index.get(id(tensor))
            if node is not None and node in self.cut_below:
                continue  # already shown below a cut, which explains it
            if node is None:
                kind = "param" if id(tensor) in self.param_of else "input"
                node = self._add_node(nodes, kind, name, "parameter" if kind == "param" else "input",
                                      _shape_of(tensor))
                if node is None:
                    continue
                self.snap.index[id(tensor)] = node
            if self.snap.root is not None or self.snap.roots:
                self._cut(node, "unreached", None,
                          f"{name} is not reached from {self._root_name()}: backward() gives it no "
                          "gradient, so an update leaves it as it is.")
        return unreached

    def _cut_new_leaves(self, nodes: list, reached_ids: set[int], unreached: list[str]) -> None:
        if not unreached:
            return
        shown = 0
        for index in sorted(reached_ids):
            if index >= len(self.snap.nodes) or nodes[index]["kind"] != "leaf":
                continue
            if self.snap.nodes[index].kind != "leaf" or shown >= 4:
                continue
            shown += 1
            what = nodes[index]["name"] or "this leaf"
            missed = ", ".join(unreached[:3]) + (" ..." if len(unreached) > 3 else "")
            self._cut(index, "new-leaf", None,
                      f"{what} is a new leaf (a tensor made with requires_grad that is not one of the "
                      f"parameters): the loss reaches it instead of {missed}, which get no gradient.")

    def _cut_optimizers(self, nodes: list, reached_ids: set[int]) -> None:
        optimizers = self.recorder.optimizers
        if not optimizers:
            return
        held: dict[int, Any] = {}
        for optimizer in optimizers:
            for tensor in _optimizer_tensors(optimizer):
                held.setdefault(id(tensor), tensor)
        for index in sorted(reached_ids):
            if index < len(self.snap.nodes) and nodes[index]["kind"] == "param":
                if id(self.snap.nodes[index].obj) not in held:
                    self._cut(index, "not-in-optimizer", None,
                              f"{nodes[index]['name']} gets a gradient from the loss, but no optimizer "
                              "holds it: optimizer.step() never updates it.")
        used = {id(t) for _, t in self.params} | {id(self.snap.nodes[i].obj) for i in reached_ids
                                                    if i < len(self.snap.nodes)}
        for optimizer in optimizers:
            stale = [t for t in _optimizer_tensors(optimizer) if id(t) not in used]
            if not stale:
                continue
            kind = type(optimizer).__name__
            shapes = ", ".join(_shape_text(_shape_of(t)) for t in stale[:3]) + (" ..." if len(stale) > 3 else "")
            node = self._add_node(nodes, "param", kind,
                                  f"{len(stale)} tensor{'s' if len(stale) != 1 else ''} it holds, unused by the loss",
                                  None)
            self._cut(node, "stale-in-optimizer", None,
                      f"The {kind} optimizer holds {len(stale)} tensor{'s' if len(stale) != 1 else ''} "
                      f"({shapes}) that are not parameters of the model your loss uses: it was "
                      "created for other tensors (an earlier model?), so step() updates those, "
                      "not the model you train.")

    def _root_name(self) -> str:
        info = self.recorder.root_info
        return info["label"] if info else "the results"

    def _leaf_name(self, tensor: Any) -> str:
        if tensor is None:
            return "w"
        return (self.param_of.get(id(tensor)) or self.arg_of.get(id(tensor))
                or self.recorder.local_leaf_name(tensor) or "w")


class _Mode(TorchFunctionMode):
    def __init__(self, recorder: GraphRecorder):
        super().__init__()
        self.recorder = recorder

    def __torch_function__(self, func: Any, types: Any, args: tuple = (), kwargs: dict | None = None) -> Any:
        kwargs = kwargs or {}
        recorder = self.recorder
        if recorder._closed or recorder._busy:
            return func(*args, **kwargs)
        return recorder.on_call(func, args, kwargs)


# ------------------------------------------------------------------------- helpers
def _alive(table: dict[int, tuple[Any, str]], obj: Any) -> str | None:
    """The name ``table`` holds for ``obj`` (keyed by id, checked through a weak reference:
    an id can be reused once its object is gone)."""
    entry = table.get(id(obj))
    return entry[1] if entry is not None and entry[0]() is obj else None


def _name_ops(snap: _Snapshot, named: list[tuple[str, Any]]) -> None:
    """Name the grad_fn of every non-leaf the student's frames hold (``h``, ``pred``, ``w``)."""
    for key, tensor in named:
        fn = _grad_fn_of(tensor)
        if fn is not None and id(fn) not in snap.fn_names:
            snap.fn_names[id(fn)] = (fn, key)


def _func_name(func: Any) -> str:
    name = getattr(func, "__name__", "")
    if name == "__get__":
        owner = getattr(func, "__self__", None)
        return _GETTER + str(getattr(owner, "__name__", ""))
    return name if isinstance(name, str) else ""


def _tensors_in(args: tuple, kwargs: dict) -> list[Any]:
    found: list[Any] = []
    for value in (*args, *kwargs.values()):
        if isinstance(value, _Tensor):
            found.append(value)
        elif isinstance(value, (list, tuple)) and len(value) <= 256:
            found += [v for v in value if isinstance(v, _Tensor)]
    return found


def _source_of(tensor: Any) -> tuple[str, Any] | None:
    """What a cut at ``tensor`` hides: its grad_fn, or the leaf itself."""
    if not isinstance(tensor, _Tensor) or not _requires_grad(tensor):
        return None
    fn = _grad_fn_of(tensor)
    return ("fn", fn) if fn is not None else ("leaf", tensor)


def _shape_of(tensor: Any) -> list[int] | None:
    try:
        return [int(s) for s in _size(tensor)][:8]
    except Exception:  # noqa: BLE001
        return None


def _fn_shape(fn: Any) -> list[int] | None:
    try:
        metadata = fn._input_metadata
        return [int(s) for s in metadata[0].shape][:8] if metadata else None
    except Exception:  # noqa: BLE001
        return None


def _shape_text(shape: list[int] | None) -> str:
    if shape is None:
        return "?"
    return "(" + ", ".join(str(s) for s in shape) + ("," if len(shape) == 1 else "") + ")"


def _describe(node: dict[str, Any]) -> str:
    return f"{node['name']} ({node['label']})" if node.get("name") else node["label"]


def _cap(text: Any, limit: int) -> str:
    """At most ``limit`` characters, printable ones only (a class name can hold anything)."""
    text = str(text)[:limit + 1]
    if not text.isprintable():
        text = "".join(c if c.isprintable() else "?" for c in text)
    return text if len(text) <= limit else text[:limit - 1] + "…"


def _bounded_put(table: dict, key: Any, value: Any, limit: int) -> None:
    table.pop(key, None)
    table[key] = value
    while len(table) > limit:
        table.pop(next(iter(table)))


def _optimizer_tensors(optimizer: Any) -> list[Any]:
    try:
        return [p for group in optimizer.param_groups for p in group["params"]
                if isinstance(p, _Tensor)][:MAX_NAMES]
    except Exception:  # noqa: BLE001
        return []


def _named_tensors(args: Any, prefix: str = "", depth: int = 0,
                   found: list[tuple[str, Any]] | None = None) -> list[tuple[str, Any]]:
    """The tensors in a driver call's arguments, by path: ``w0``, ``params[1]``, ``batches[0][1]``."""
    found = [] if found is None else found
    if len(found) >= MAX_ARG_TENSORS or depth > 4:
        return found
    if isinstance(args, _Tensor):
        found.append((prefix, args))
    elif isinstance(args, dict):
        for key, value in args.items():
            path = str(key) if depth == 0 else f"{prefix}[{key!r}]"
            _named_tensors(value, path, depth + 1, found)
    elif isinstance(args, (list, tuple)):
        for index, value in enumerate(args):
            _named_tensors(value, f"{prefix}[{index}]", depth + 1, found)
    return found
