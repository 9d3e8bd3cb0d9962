"""Following every torch call the code makes while the recorder is active.

A ``.detach()`` / ``.data`` of a tensor that requires grad, an op on such a tensor under
``torch.no_grad()``, and an op that combines a leaf with a value computed from that leaf's own
``.grad`` (a ``w = w - lr * w.grad`` rebinding) are *candidate* cuts: the values they produce
are tagged, the tags follow the values that do not require grad, and a tag that reaches a value
that does require grad links that value's grad_fn to the candidate (walked in :mod:`.walk`).
Reads of ``.grad`` on a non-leaf and in-place updates of leaves under ``no_grad`` are noted too.
"""

from __future__ import annotations

import weakref
from typing import Any

from .snapshot import Candidate
from .tables import (MAX_CANDIDATES, MAX_LINKS, MAX_PRODUCED, MAX_TAGGED, MAX_UPDATES, alive,
                     bounded_put)
from .tensors import (GETTER, Tensor, autograd_backward, autograd_grad, func_name, grad_fn_of,
                      is_grad_enabled, is_leaf, requires_grad, retains_grad, shape_of, source_of,
                      tensor_backward, tensors_in)

_DETACH = frozenset({"detach", "detach_"})
_NOT_UPDATES = frozenset({"requires_grad_", "detach_", "share_memory_"})  # in place, values unchanged


class CallTracking:
    """The :class:`~.recorder.GraphRecorder` part that sees the torch calls (through the
    recorder's torch function mode): its tags, candidates, cut links and rebindings, the
    results not consumed yet, the updates and the non-leaf ``.grad`` reads."""

    def on_call(self, func: Any, args: tuple, kwargs: dict) -> Any:
        """The mode's handler: run the call, then look at what it did (never raising)."""
        name = func_name(func)
        before = None
        if func is tensor_backward or func is autograd_backward or func is autograd_grad:
            self._guarded(self._on_backward, args[0] if args else kwargs.get("outputs", kwargs.get("tensors")))
        elif name in _DETACH:
            before = self._guarded(source_of, args[0] if args else None)
        grad_on = is_grad_enabled()
        result = func(*args, **kwargs)
        self._guarded(self._after, name, args, kwargs, result, grad_on, before)
        return result

    def _guarded(self, function: Any, *args: Any) -> Any:
        """``function(*args)``, unless the recorder is already busy (its own torch calls are
        not the student's); its exceptions never reach the student's code path."""
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
        if name.startswith(GETTER):
            self._after_getter(name, args, result)
            return
        inputs = tensors_in(args, kwargs)
        outputs = tensors_in((result,), {}) if not isinstance(result, Tensor) else [result]
        if not outputs:
            return
        tags: set[int] = set()
        for tensor in inputs:
            tags |= self._tags_of(tensor)
        grad_inputs = [t for t in inputs if requires_grad(t)]
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
        if not isinstance(owner, Tensor):
            return
        if name == ".grad":
            if is_leaf(owner):
                if isinstance(result, Tensor):
                    self._set_tags(result, self._tags_of(result) | {self._grad_tag_of(owner)})
            elif not retains_grad(owner):
                fn = grad_fn_of(owner)
                if fn is not None and len(self._non_leaf_reads) < 16 and self._from_student():
                    self._non_leaf_reads.append((fn, self._local_name_of(owner)))
        elif name == ".data" and isinstance(result, Tensor) and requires_grad(owner):
            if self._from_student():
                tag = self._add_candidate(Candidate("detach", ".data", [source_of(owner)],
                                                     shape_of(owner)))
                self._candidates[tag].outputs = [weakref.ref(result)]
                self._set_tags(result, self._tags_of(result) | {tag})

    def _new_candidate(self, name: str, inputs: list, grad_inputs: list, outputs: list,
                       tags: set[int], grad_on: bool, before: Any) -> int | None:
        if name in _DETACH and before is not None:
            if not self._from_student():
                return None
            return self._add_candidate(Candidate("detach", name, [before], shape_of(inputs[0])))
        if grad_on or not grad_inputs or name.endswith("_"):
            return None
        if any(requires_grad(o) for o in outputs) or not self._from_student():
            return None
        leaf = self._rebound_leaf(grad_inputs, tags)
        kind = "rebound" if leaf is not None else "no-grad"
        return self._add_candidate(Candidate(kind, name, [source_of(t) for t in grad_inputs[:8]],
                                              shape_of(outputs[0]), leaf))

    def _follow(self, output: Any, inputs: list, grad_inputs: list, tags: set[int]) -> None:
        """Carry the tags to an output that does not require grad; link them to one that does."""
        fn = grad_fn_of(output) if requires_grad(output) else None
        if fn is None:
            if tags and not requires_grad(output):
                self._set_tags(output, self._tags_of(output) | tags)
            return
        cut_tags = tuple(sorted(t for t in tags if t in self._candidates))
        if cut_tags:
            bounded_put(self._cut_links, id(fn), (fn, cut_tags), MAX_LINKS)
        leaf = self._rebound_leaf(grad_inputs, tags)
        if leaf is not None:
            bounded_put(self._rebinds, id(fn), (fn, leaf), MAX_LINKS)
            bounded_put(self._rebound_since, id(fn), fn, MAX_PRODUCED)
            if self.local_leaf_name(leaf) is None:
                self._stack_names()  # learn the leaf's name while the student's frame holds it
        for tensor in inputs:
            consumed = grad_fn_of(tensor)
            if consumed is not None:
                self._produced.pop(id(consumed), None)
                self._rebound_since.pop(id(consumed), None)
        bounded_put(self._produced, id(fn), fn, MAX_PRODUCED)

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

    def _add_candidate(self, candidate: Candidate) -> int:
        tag = self._new_tag()
        bounded_put(self._candidates, tag, candidate, MAX_CANDIDATES)
        return tag

    def _tags_of(self, tensor: Any) -> frozenset:
        tags = alive(self._tags, tensor)
        return tags if tags is not None else frozenset()

    def _set_tags(self, tensor: Any, tags: frozenset | set) -> None:
        if len(self._tags) >= MAX_TAGGED:
            self._tags = {k: v for k, v in self._tags.items() if v[0]() is not None}
            if len(self._tags) >= MAX_TAGGED:
                return
        self._tags[id(tensor)] = (weakref.ref(tensor), frozenset(tags))

    def _remember_update(self, name: str, leaf: Any) -> None:
        if (is_leaf(leaf) and len(self._updates) < MAX_UPDATES
                and not any(t is leaf for _, t in self._updates) and self._from_student()):
            self._updates.append((name, leaf))
            if self.local_leaf_name(leaf) is None:
                self._stack_names()

