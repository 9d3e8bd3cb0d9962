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

The modules, each one part of the recorder:

- :mod:`.recorder`: :class:`GraphRecorder`, installing and removing the mode and the hooks;
- :mod:`.tracking`: every torch call: cut candidates, their tags, rebindings, updates;
- :mod:`.walk`: the autograd graph from a backward() root, or what was computed without one;
- :mod:`.frames`: the student's frames: whose call it was, the names the student used;
- :mod:`.report`: the snapshot as plain data, with the cuts explained;
- :mod:`.snapshot`, :mod:`.tensors`, :mod:`.tables`: the data kept, tensor reads that do
  not trust the student's patches, the caps.

Every submodule is imported here, eagerly: the sandbox child imports this package before it
is confined, and may import nothing afterwards.
"""

from . import frames, recorder, report, snapshot, tables, tensors, tracking, walk
from .recorder import GraphRecorder

__all__ = ["GraphRecorder", "frames", "recorder", "report", "snapshot", "tables", "tensors",
           "tracking", "walk"]
