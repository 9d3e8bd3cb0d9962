"""Reading tensors, torch calls and call arguments without trusting the student's patches.

The torch objects are looked up once, at import: the student may patch ``torch.Tensor`` or
``torch.autograd`` later.
"""

from __future__ import annotations

from typing import Any

import torch

from .tables import MAX_ARG_TENSORS, MAX_NAMES

# Read tensors through the immutable C base class, as the wire does: the student may have
# patched torch.Tensor.
_TensorBase = torch._C.TensorBase
Tensor = torch.Tensor
requires_grad = _TensorBase.requires_grad.__get__
is_leaf = _TensorBase.is_leaf.__get__
grad_fn_of = _TensorBase.grad_fn.__get__
retains_grad = _TensorBase.retains_grad.__get__
_size = _TensorBase.size
is_grad_enabled = torch.is_grad_enabled
Module = torch.nn.Module
Optimizer = torch.optim.Optimizer
autograd_backward = torch.autograd.backward
autograd_grad = torch.autograd.grad
tensor_backward = torch.Tensor.backward
GETTER = "."  # prefix of a property read: ".grad", ".data"


def func_name(func: Any) -> str:
    name = getattr(func, "__name__", "")
    if name == "__get__":
        owner = getattr(func, "__self__", None)
        return GETTER + str(getattr(owner, "__name__", ""))
    return name if isinstance(name, str) else ""


def tensors_in(args: tuple, kwargs: dict) -> list[Any]:
    found: list[Any] = []
    for value in (*args, *kwargs.values()):
        if isinstance(value, Tensor):
            found.append(value)
        elif isinstance(value, (list, tuple)) and len(value) <= 256:
            found += [v for v in value if isinstance(v, Tensor)]
    return found


def source_of(tensor: Any) -> tuple[str, Any] | None:
    """What a cut at ``tensor`` hides: its grad_fn, or the leaf itself."""
    if not isinstance(tensor, Tensor) or not requires_grad(tensor):
        return None
    fn = grad_fn_of(tensor)
    return ("fn", fn) if fn is not None else ("leaf", tensor)


def shape_of(tensor: Any) -> list[int] | None:
    try:
        return [int(s) for s in _size(tensor)][:8]
    except Exception:  # noqa: BLE001
        return None


def fn_shape(fn: Any) -> list[int] | None:
    try:
        metadata = fn._input_metadata
        return [int(s) for s in metadata[0].shape][:8] if metadata else None
    except Exception:  # noqa: BLE001
        return None


def optimizer_tensors(optimizer: Any) -> list[Any]:
    try:
        return [p for group in optimizer.param_groups for p in group["params"]
                if isinstance(p, Tensor)][:MAX_NAMES]
    except Exception:  # noqa: BLE001
        return []


def named_tensors(args: Any, prefix: str = "", depth: int = 0,
                  found: list[tuple[str, Any]] | None = None) -> list[tuple[str, Any]]:
    """The tensors in a driver call's arguments, by path: ``w0``, ``params[1]``, ``batches[0][1]``."""
    found = [] if found is None else found
    if len(found) >= MAX_ARG_TENSORS or depth > 4:
        return found
    if isinstance(args, Tensor):
        found.append((prefix, args))
    elif isinstance(args, dict):
        for key, value in args.items():
            path = str(key) if depth == 0 else f"{prefix}[{key!r}]"
            named_tensors(value, path, depth + 1, found)
    elif isinstance(args, (list, tuple)):
        for index, value in enumerate(args):
            named_tensors(value, f"{prefix}[{index}]", depth + 1, found)
    return found
