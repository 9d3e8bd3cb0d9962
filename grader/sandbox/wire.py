"""The wire format between the trusted grader and the sandboxed submission.

Only plain data crosses: ``None``, booleans, numbers, strings, lists, string-keyed dicts,
and tensors sent as raw little-endian buffers with dtype, shape and autograd metadata.
Nothing is pickled, marshalled or evaluated.

A frame is ``u32 header_length | header (JSON, UTF-8) | buffer 0 | buffer 1 | ...``.
The header is ``{"kind": str, "id": int, "body": value, "buffers": [len, ...]}``; a tensor in
``body`` is ``{"__tensor__": {"buffer": i, "dtype": ..., "shape": [...], "requires_grad": b,
"is_leaf": b, "grad": tensor-or-null, "grad_fn": name-or-null, "storage": int-or-null}}``.

:func:`decode_frame` is what the trusted side runs on bytes that came out of the sandbox: every
field is type-checked and every size is capped before anything is allocated, and any problem
raises :class:`WireError` (which the grader turns into an "invalid-reply" verdict).
"""

from __future__ import annotations

import json
import math
import struct
from dataclasses import dataclass
from typing import Any, Callable

import torch

MAX_FRAME_BYTES = 64 << 20
MAX_HEADER_BYTES = 4 << 20
MAX_TENSOR_ELEMENTS = 4 << 20
MAX_DEPTH = 24
MAX_ITEMS = 100_000
MAX_STRING = 1 << 20
_HEADER = struct.Struct(">I")

DTYPES: dict[str, torch.dtype] = {
    "float32": torch.float32,
    "float64": torch.float64,
    "float16": torch.float16,
    "bfloat16": torch.bfloat16,
    "int64": torch.int64,
    "int32": torch.int32,
    "int16": torch.int16,
    "int8": torch.int8,
    "uint8": torch.uint8,
    "bool": torch.bool,
}
_DTYPE_NAMES = {v: k for k, v in DTYPES.items()}

# Captured once, from the C base class, which student code cannot patch (it is an immutable
# type): the sandbox side reads tensors through these even if ``torch.Tensor`` was monkeypatched.
_TensorBase = torch._C.TensorBase
_Tensor = torch.Tensor
_detach = _TensorBase.detach
_requires_grad = _TensorBase.requires_grad.__get__
_is_leaf = _TensorBase.is_leaf.__get__
_grad = _TensorBase.grad.__get__
_grad_fn = _TensorBase.grad_fn.__get__
_clone = _TensorBase.clone
_untyped_storage = _TensorBase.untyped_storage


class WireError(ValueError):
    """Raised for anything that is not a valid frame."""


@dataclass(frozen=True)
class WireTensor:
    """A tensor as reported by the sandbox: its values plus what autograd said about it.

    ``value`` is a fresh, detached tensor built from the raw buffer in the trusted process.
    """

    value: torch.Tensor
    requires_grad: bool = False
    is_leaf: bool = True
    grad: "WireTensor | None" = None
    grad_fn: str | None = None
    storage: int | None = None

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(self.value.shape)

    @property
    def dtype(self) -> torch.dtype:
        return self.value.dtype


# ----------------------------------------------------------------------------- encoding
def describe(t: torch.Tensor, *, grad: bool = True, storage: bool = False,
             copy: bool = False) -> WireTensor:
    """A tensor with what autograd says about it, read through the immutable base class.

    ``grad``: include ``.grad`` (leaf tensors only); ``storage``: include the storage address,
    for "was it updated in place?"; ``copy``: snapshot the values (a driver reporting a tensor
    that training will change afterwards) instead of sharing them until the frame is encoded.
    """
    leaf = bool(_is_leaf(t))
    gradient = _grad(t) if leaf and grad else None
    fn = _grad_fn(t)
    values = _detach(t)
    return WireTensor(
        value=_clone(values) if copy else values,
        requires_grad=bool(_requires_grad(t)),
        is_leaf=leaf,
        grad=describe(gradient, copy=copy) if isinstance(gradient, _Tensor) else None,
        grad_fn=type(fn).__name__ if fn is not None else None,
        storage=_untyped_storage(t).data_ptr() if storage else None,
    )


def encode_frame(kind: str, msg_id: int, body: Any) -> bytes:
    """Encode ``body`` (plain data and tensors) into one frame."""
    buffers: list[bytes] = []
    plain = _to_plain(body, buffers, 0)
    header = json.dumps({"kind": kind, "id": msg_id, "body": plain,
                         "buffers": [len(b) for b in buffers]},
                        separators=(",", ":")).encode()
    frame = b"".join([_HEADER.pack(len(header)), header, *buffers])
    if len(frame) > MAX_FRAME_BYTES:
        raise WireError(f"frame of {len(frame)} bytes exceeds the {MAX_FRAME_BYTES} byte cap")
    return frame


def _to_plain(value: Any, buffers: list[bytes], depth: int) -> Any:
    if depth > MAX_DEPTH:
        raise WireError("value nested too deeply")
    if len(buffers) > MAX_ITEMS:
        raise WireError("too many tensors in one message")
    if isinstance(value, str):
        if len(value) > MAX_STRING:
            raise WireError("string exceeds the cap")
        return value
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value)
    if isinstance(value, WireTensor):
        return _tensor_to_plain(value, buffers, depth)
    if isinstance(value, _Tensor):
        return _tensor_to_plain(describe(value), buffers, depth)
    if isinstance(value, (list, tuple)):
        if len(value) > MAX_ITEMS:
            raise WireError("list exceeds the item cap")
        return [_to_plain(v, buffers, depth + 1) for v in value]
    if isinstance(value, dict):
        if len(value) > MAX_ITEMS:
            raise WireError("dict exceeds the item cap")
        if not all(isinstance(k, str) for k in value) or "__tensor__" in value:
            raise WireError("dict keys must be strings other than '__tensor__'")
        return {k: _to_plain(v, buffers, depth + 1) for k, v in value.items()}
    raise WireError(f"cannot send a value of type {type(value).__name__}")


def _tensor_to_plain(meta: WireTensor, buffers: list[bytes], depth: int) -> dict:
    data = _detach(meta.value)
    dtype = _DTYPE_NAMES.get(data.dtype)
    if dtype is None:
        raise WireError(f"unsupported tensor dtype {data.dtype}")
    if data.numel() > MAX_TENSOR_ELEMENTS:
        raise WireError(f"tensor with {data.numel()} elements exceeds the cap")
    raw = data.to("cpu").contiguous()
    if raw.dtype is torch.bfloat16:
        raw = raw.view(torch.int16)
    buffers.append(raw.numpy().tobytes())
    grad = meta.grad
    info = {"requires_grad": meta.requires_grad, "is_leaf": meta.is_leaf,
            "grad_fn": meta.grad_fn, "storage": meta.storage,
            "buffer": len(buffers) - 1, "dtype": dtype, "shape": list(data.shape),
            "grad": _to_plain(grad, buffers, depth + 1) if grad is not None else None}
    return {"__tensor__": info}


# ----------------------------------------------------------------------------- decoding
def read_header_length(prefix: bytes) -> int:
    (length,) = _HEADER.unpack(prefix)
    if length > MAX_HEADER_BYTES:
        raise WireError(f"header of {length} bytes exceeds the cap")
    return length


def parse_header(raw: bytes) -> dict:
    """Parse and validate a frame header; returns it with ``buffers`` checked."""
    try:
        header = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise WireError(f"header is not valid JSON: {exc}") from None
    if not isinstance(header, dict) or set(header) != {"kind", "id", "body", "buffers"}:
        raise WireError("header must have exactly the keys kind, id, body, buffers")
    if not isinstance(header["kind"], str) or type(header["id"]) is not int:
        raise WireError("header kind/id have the wrong type")
    sizes = header["buffers"]
    if not isinstance(sizes, list) or len(sizes) > MAX_ITEMS or not all(
            type(n) is int and 0 <= n <= MAX_FRAME_BYTES for n in sizes):
        raise WireError("buffer table is malformed")
    if sum(sizes) > MAX_FRAME_BYTES:
        raise WireError("buffers exceed the frame cap")
    return header


def decode_body(header: dict, buffers: list[bytes],
                make_tensor: Callable[[torch.Tensor, dict, Any], Any] | None = None) -> Any:
    """Turn a validated header's body into Python values; tensors become WireTensor by default."""
    used: set[int] = set()
    counter = [0]
    builder = make_tensor or _make_wire_tensor
    try:
        return _from_plain(header["body"], buffers, used, counter, 0, builder)
    except WireError:
        raise
    except Exception as exc:  # defence in depth: nothing but WireError leaves the decoder
        raise WireError(f"malformed value ({type(exc).__name__})") from None


def _from_plain(value: Any, buffers: list[bytes], used: set[int], counter: list[int],
                depth: int, builder) -> Any:
    counter[0] += 1
    if counter[0] > MAX_ITEMS or depth > MAX_DEPTH:
        raise WireError("value too large or nested too deeply")
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return value
    if isinstance(value, str):
        if len(value) > MAX_STRING:
            raise WireError("string exceeds the cap")
        return value
    if isinstance(value, list):
        return [_from_plain(v, buffers, used, counter, depth + 1, builder) for v in value]
    if isinstance(value, dict):
        if "__tensor__" in value:
            if len(value) != 1:
                raise WireError("a tensor object must have no other keys")
            return _decode_tensor(value["__tensor__"], buffers, used, counter, depth, builder)
        return {k: _from_plain(v, buffers, used, counter, depth + 1, builder)
                for k, v in value.items()}
    raise WireError(f"unexpected JSON value of type {type(value).__name__}")


_TENSOR_KEYS = {"buffer", "dtype", "shape", "requires_grad", "is_leaf", "grad", "grad_fn", "storage"}


def _decode_tensor(info: Any, buffers: list[bytes], used: set[int], counter: list[int],
                   depth: int, builder) -> Any:
    if depth > MAX_DEPTH:
        raise WireError("tensor grads nested too deeply")
    if not isinstance(info, dict) or set(info) != _TENSOR_KEYS:
        raise WireError("tensor metadata has the wrong keys")
    index, dtype_name, shape = info["buffer"], info["dtype"], info["shape"]
    if type(index) is not int or not 0 <= index < len(buffers) or index in used:
        raise WireError("tensor refers to a missing or reused buffer")
    used.add(index)
    dtype = DTYPES.get(dtype_name) if isinstance(dtype_name, str) else None
    if dtype is None:
        raise WireError(f"unsupported dtype {dtype_name!r}")
    if not isinstance(shape, list) or len(shape) > 16 or not all(
            type(d) is int and 0 <= d <= MAX_TENSOR_ELEMENTS for d in shape):
        raise WireError("tensor shape is malformed")
    numel = math.prod(shape)
    # Also cap the product of the non-zero dims: an empty tensor of shape (0, 4M, 4M, 4M) has
    # no elements, but its strides overflow.
    if numel > MAX_TENSOR_ELEMENTS or math.prod(d for d in shape if d) > MAX_TENSOR_ELEMENTS:
        raise WireError("tensor exceeds the element cap")
    itemsize = dtype.itemsize
    raw = buffers[index]
    if len(raw) != numel * itemsize:
        raise WireError("tensor buffer length does not match its shape and dtype")
    for key in ("requires_grad", "is_leaf"):
        if type(info[key]) is not bool:
            raise WireError(f"tensor {key} must be a boolean")
    grad_fn, storage = info["grad_fn"], info["storage"]
    if grad_fn is not None and (not isinstance(grad_fn, str) or len(grad_fn) > 200):
        raise WireError("tensor grad_fn must be a short string or null")
    if storage is not None and type(storage) is not int:
        raise WireError("tensor storage must be an integer or null")
    grad = None
    if info["grad"] is not None:
        if not isinstance(info["grad"], dict) or set(info["grad"]) != {"__tensor__"}:
            raise WireError("tensor grad must be a tensor or null")
        grad = _decode_tensor(info["grad"]["__tensor__"], buffers, used, counter, depth + 1, builder)
    values = _tensor_from_bytes(raw, dtype, shape)
    meta = {"requires_grad": info["requires_grad"], "is_leaf": info["is_leaf"],
            "grad_fn": grad_fn, "storage": storage}
    return builder(values, meta, grad)


def _tensor_from_bytes(raw: bytes, dtype: torch.dtype, shape: list[int]) -> torch.Tensor:
    if not raw:
        return torch.empty(shape, dtype=dtype)
    storage_dtype = torch.int16 if dtype is torch.bfloat16 else dtype
    # clone(): a tensor that owns its memory, not a view of the flat buffer, so that in-place
    # autograd operations (``detach_()``, ``zero_grad(set_to_none=False)``) work on it.
    values = torch.frombuffer(bytearray(raw), dtype=storage_dtype).reshape(shape).clone()
    return values.view(torch.bfloat16) if dtype is torch.bfloat16 else values


def _make_wire_tensor(values: torch.Tensor, meta: dict, grad: Any) -> WireTensor:
    return WireTensor(value=values, grad=grad, **meta)


def split_buffers(payload: bytes, sizes: list[int]) -> list[bytes]:
    if len(payload) != sum(sizes):
        raise WireError("frame length does not match its buffer table")
    out, pos = [], 0
    for n in sizes:
        out.append(payload[pos:pos + n])
        pos += n
    return out


def decode_frame(frame: bytes) -> tuple[str, int, Any]:
    """Decode a whole frame held in memory (used by tests and the in-process runner)."""
    if len(frame) < _HEADER.size or len(frame) > MAX_FRAME_BYTES:
        raise WireError("frame too short or too long")
    length = read_header_length(frame[:_HEADER.size])
    header = parse_header(frame[_HEADER.size:_HEADER.size + length])
    buffers = split_buffers(frame[_HEADER.size + length:], header["buffers"])
    return header["kind"], header["id"], decode_body(header, buffers)
