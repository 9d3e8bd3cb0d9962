"""The student's frames: whose code made a torch call, and the names the student gave things.

Names are read from the local variables of the frames running the submission's file (a leaf
keeps the first name it was seen under, a module its variable's name); a torch call counts as
the student's when, going outwards, a frame of the submission comes before any frame of an
optimizer or of the grader (the recorder's own frames do not decide).
"""

from __future__ import annotations

import os
import sys
import weakref
from typing import Any, Iterator

import torch

import grader

from .tables import MAX_NAMES, STACK_DEPTH, alive
from .tensors import Module, Tensor, is_leaf, requires_grad

_PROBE_DIR = os.path.dirname(os.path.abspath(__file__)) + os.sep  # the recorder's own frames
_GRADER_DIR = os.path.dirname(os.path.abspath(grader.__file__)) + os.sep
_OPTIM_DIR = os.path.dirname(os.path.abspath(torch.optim.__file__)) + os.sep


class StudentFrames:
    """The :class:`~.recorder.GraphRecorder` part that reads the student's frames (from
    ``student_file``): the leaves and modules it named, the leaves its functions made."""

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
            if not filename.startswith(_PROBE_DIR) and filename.startswith((_OPTIM_DIR, _GRADER_DIR)):
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
                if isinstance(value, Tensor):
                    named.append((key, value))
                elif isinstance(value, (list, tuple)) and len(value) <= 64:
                    named += [(f"{key}[{i}]", v) for i, v in enumerate(value) if isinstance(v, Tensor)]
                elif isinstance(value, Module) and alive(self._module_names, value) is None:
                    self._module_names[id(value)] = (weakref.ref(value), key)
        for key, tensor in named:
            if (is_leaf(tensor) and alive(self._local_names, tensor) is None
                    and len(self._local_names) < MAX_NAMES):
                self._local_names[id(tensor)] = (weakref.ref(tensor), key)
        return named

    def _local_name_of(self, tensor: Any) -> str | None:
        for key, value in self._stack_names():
            if value is tensor:
                return key
        return None

    def _remember_made_leaves(self, outputs: list) -> None:
        """Leaves the student's code made (``requires_grad_()``, ``requires_grad=True``), with
        the name of the function that made them."""
        maker = self._student_function()
        if maker is None:
            return
        for output in outputs:
            if is_leaf(output) and requires_grad(output) and len(self._made_leaves) < MAX_NAMES:
                self._made_leaves[id(output)] = (weakref.ref(output), maker)

    def _student_function(self) -> str | None:
        """The innermost student function on the stack ("" outside the sandbox's checks of
        student code, when any caller counts), or None when the call is not the student's."""
        if not self._from_student():
            return None
        frame = next(self._student_frames(), None)
        return frame.f_code.co_name if frame is not None else ""

    def local_leaf_name(self, tensor: Any) -> str | None:
        return alive(self._local_names, tensor)

    def maker_of(self, tensor: Any) -> str | None:
        """The student's function that made this leaf ("" if unknown), None if not made there."""
        return alive(self._made_leaves, tensor)

