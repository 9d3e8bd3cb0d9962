"""grader.sandbox.wire: round trips, and the decoder's validation of untrusted frames."""

from __future__ import annotations

import ast
import json
import math
import struct
from pathlib import Path

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from grader.sandbox import wire
from grader.sandbox.wire import MAX_DEPTH, MAX_HEADER_BYTES, MAX_TENSOR_ELEMENTS, WireError, WireTensor

FUZZ = settings(max_examples=300, derandomize=True, deadline=None, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


# ----------------------------------------------------------------------------- helpers
def raw_frame(header, payload: bytes = b"") -> bytes:
    """A frame with an arbitrary header (a JSON-able value, or raw bytes) and payload."""
    raw = header if isinstance(header, bytes) else json.dumps(header).encode()
    return struct.pack(">I", len(raw)) + raw + payload


def info(**overrides) -> dict:
    """Tensor metadata for a float32 tensor of shape [1] in buffer 0, with overrides."""
    base = dict(buffer=0, dtype="float32", shape=[1], requires_grad=False, is_leaf=True,
                grad=None, grad_fn=None, storage=None)
    base.update(overrides)
    return base


def tensor_frame(payload: bytes = b"\0" * 4, **overrides) -> bytes:
    """A frame whose body is one tensor; the buffer table matches the payload."""
    return raw_frame({"kind": "reply", "id": 1, "body": {"__tensor__": info(**overrides)},
                      "buffers": [len(payload)]}, payload)


def round_trip(body):
    kind, msg_id, value = wire.decode_frame(wire.encode_frame("reply", 7, body))
    assert (kind, msg_id) == ("reply", 7)
    return value


def nested_lists(levels: int):
    value = 0
    for _ in range(levels):
        value = [value]
    return value


def nested_dicts(levels: int):
    value = 0
    for _ in range(levels):
        value = {"k": value}
    return value


def sample(dtype: torch.dtype, shape=(2, 3)) -> torch.Tensor:
    gen = torch.Generator().manual_seed(0)
    if dtype is torch.bool:
        return torch.rand(shape, generator=gen) > 0.5
    if dtype.is_floating_point:
        return (torch.randn(shape, generator=gen) * 100).to(dtype)
    info_ = torch.iinfo(dtype)
    return torch.randint(info_.min, info_.max, shape, generator=gen, dtype=torch.int64).to(dtype)


# ----------------------------------------------------------------------------- round trips
json_scalars = (st.none() | st.booleans() | st.integers(-(2 ** 70), 2 ** 70)
                | st.floats(allow_nan=False) | st.text(max_size=20))
plain_data = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=4)
    | st.dictionaries(st.text(max_size=8).filter(lambda k: k != "__tensor__"), inner, max_size=4),
    max_leaves=30)


@settings(max_examples=200, derandomize=True, deadline=None, database=None)
@given(plain_data)
def test_nested_plain_data_round_trips_unchanged(value):
    assert round_trip(value) == value


def test_tuples_arrive_as_lists():
    assert round_trip({"pair": (1, (2.5, "x"))}) == {"pair": [1, [2.5, "x"]]}


def test_kind_and_id_round_trip():
    assert wire.decode_frame(wire.encode_frame("call", 123456789, None)) == ("call", 123456789, None)


@pytest.mark.parametrize("name", sorted(wire.DTYPES))
def test_tensors_of_every_supported_dtype_round_trip_bit_for_bit(name):
    original = sample(wire.DTYPES[name])
    got = round_trip(original)
    assert isinstance(got, WireTensor)
    assert got.dtype == original.dtype and got.shape == (2, 3)
    assert torch.equal(got.value, original)


def test_bfloat16_keeps_values_that_float16_could_not_hold():
    original = torch.tensor([1e30, -3.5e-20, 0.0078125], dtype=torch.bfloat16)
    got = round_trip(original).value
    assert got.dtype is torch.bfloat16 and torch.equal(got, original)


@pytest.mark.parametrize("name", sorted(wire.DTYPES))
@pytest.mark.parametrize("shape", [(0,), (3, 0, 2), ()], ids=["empty", "empty-3d", "0-dim"])
def test_empty_and_zero_dim_tensors_round_trip(name, shape):
    original = sample(wire.DTYPES[name], shape)
    got = round_trip(original)
    assert got.shape == shape and got.dtype == original.dtype
    assert torch.equal(got.value, original)


def test_special_float_values_round_trip():
    original = torch.tensor([float("nan"), float("inf"), -float("inf"), -0.0])
    got = round_trip(original).value
    assert torch.equal(got.isnan(), original.isnan())
    assert got[1:].tolist() == original[1:].tolist()
    assert math.copysign(1.0, got[3].item()) == -1.0


def test_a_non_contiguous_tensor_round_trips_by_value():
    original = torch.arange(12.0).reshape(3, 4).t()
    got = round_trip(original).value
    assert got.shape == (4, 3) and torch.equal(got, original)


def test_a_plain_tensor_arrives_as_a_detached_leaf():
    got = round_trip(torch.ones(2))
    assert (got.requires_grad, got.is_leaf, got.grad, got.grad_fn) == (False, True, None, None)
    assert not got.value.requires_grad


def test_a_leaf_that_requires_grad_arrives_with_its_grad():
    w = torch.tensor([1.0, 2.0], requires_grad=True)
    (w * w).sum().backward()
    got = round_trip(w)
    assert got.requires_grad and got.is_leaf and got.grad_fn is None
    assert isinstance(got.grad, WireTensor)
    assert torch.equal(got.grad.value, torch.tensor([2.0, 4.0]))
    assert not got.value.requires_grad  # the trusted side gets values, not a live graph


def test_a_non_leaf_arrives_with_its_grad_fn_name_and_no_grad():
    w = torch.tensor([1.0, 2.0], requires_grad=True)
    got = round_trip({"y": w * 3})["y"]
    assert got.requires_grad and not got.is_leaf
    assert got.grad_fn == "MulBackward0" and got.grad is None
    assert torch.equal(got.value, torch.tensor([3.0, 6.0]))


def test_a_leaf_without_requires_grad_but_with_a_grad_still_reports_it():
    w = torch.zeros(2)
    w.grad = torch.ones(2)
    got = round_trip(w)
    assert not got.requires_grad and torch.equal(got.grad.value, torch.ones(2))


def test_wire_tensor_metadata_round_trips_as_given():
    sent = WireTensor(value=torch.ones(2, dtype=torch.float64), requires_grad=True, is_leaf=False,
                      grad=WireTensor(torch.zeros(2)), grad_fn="AddBackward0", storage=42)
    got = round_trip([sent])[0]
    assert (got.requires_grad, got.is_leaf, got.grad_fn, got.storage) == (True, False, "AddBackward0", 42)
    assert torch.equal(got.value, sent.value) and torch.equal(got.grad.value, torch.zeros(2))


def test_tensors_nested_in_plain_data_keep_their_places():
    body = {"params": [torch.ones(1), torch.zeros(2, dtype=torch.int64)], "loss": 0.5,
            "meta": {"ok": True, "t": torch.tensor(True)}}
    got = round_trip(body)
    assert got["loss"] == 0.5 and got["meta"]["ok"] is True
    assert torch.equal(got["params"][0].value, torch.ones(1))
    assert torch.equal(got["params"][1].value, torch.zeros(2, dtype=torch.int64))
    assert got["meta"]["t"].value.item() is True


@pytest.mark.parametrize("name", sorted(wire.DTYPES))
def test_decoded_tensors_own_their_memory_and_are_writable(name):
    frame = wire.encode_frame("reply", 1, sample(wire.DTYPES[name]))
    first = wire.decode_frame(frame)[2].value
    second = wire.decode_frame(frame)[2].value
    assert first._base is None
    before = second.clone()
    first.zero_()  # in place, no "non-writable buffer" warning or error
    assert torch.equal(second, before), "two decodes of one frame must not share memory"


def test_a_decoded_float_tensor_supports_in_place_autograd_operations():
    t = wire.decode_frame(wire.encode_frame("reply", 1, torch.ones(3)))[2].value
    t.requires_grad_(True)
    (t * 2).sum().backward()
    assert torch.equal(t.grad, torch.full((3,), 2.0))
    t.detach_()
    assert not t.requires_grad


def test_the_encoder_refuses_values_it_cannot_send():
    with pytest.raises(WireError):
        wire.encode_frame("reply", 1, object())
    with pytest.raises(WireError):
        wire.encode_frame("reply", 1, {1: "int key"})
    with pytest.raises(WireError):
        wire.encode_frame("reply", 1, torch.zeros(2, dtype=torch.complex64))
    with pytest.raises(WireError):
        wire.encode_frame("reply", 1, nested_lists(MAX_DEPTH + 1))


@pytest.mark.parametrize("body", [
    {"__tensor__": 1},
    "x" * (wire.MAX_STRING + 1),
    [0] * (wire.MAX_ITEMS + 1),
], ids=["reserved-tensor-key", "string-over-cap", "items-over-cap"])
def test_whatever_the_encoder_accepts_the_decoder_decodes(body):
    try:
        frame = wire.encode_frame("reply", 1, body)
    except WireError:
        return  # refusing up front is fine
    assert wire.decode_frame(frame)[2] == body


# ----------------------------------------------------------------------------- validation
def over_header_cap() -> bytes:
    return struct.pack(">I", MAX_HEADER_BYTES + 1)  # no header follows: must fail on the length


def two_tensors_one_buffer() -> bytes:
    t = {"__tensor__": info()}
    return raw_frame({"kind": "r", "id": 1, "body": [t, t], "buffers": [4, 4]}, b"\0" * 8)


def grad_reusing_its_parents_buffer() -> bytes:
    return tensor_frame(grad={"__tensor__": info()})


def good_header(**overrides) -> dict:
    header = {"kind": "r", "id": 1, "body": None, "buffers": []}
    header.update(overrides)
    return header


INVALID_FRAMES = {
    # framing and header
    "empty frame": b"",
    "shorter than the length prefix": b"\0\0\0",
    "header length over MAX_HEADER_BYTES": over_header_cap(),
    "header length past the end of the frame": struct.pack(">I", 100) + b"{}",
    "header not JSON": raw_frame(b"{kind: r}"),
    "header not UTF-8": raw_frame(b'{"kind": "\xff\xfe"}'),
    "header is empty": raw_frame(b""),
    "header is a list": raw_frame([1, 2]),
    "header is null": raw_frame(None),
    "header missing body": raw_frame({"kind": "r", "id": 1, "buffers": []}),
    "header with an extra key": raw_frame(good_header(extra=1)),
    "kind not a string": raw_frame(good_header(kind=3)),
    "id a string": raw_frame(good_header(id="1")),
    "id a float": raw_frame(good_header(id=1.0)),
    "id a boolean": raw_frame(good_header(id=True)),
    "id null": raw_frame(good_header(id=None)),
    "JSON nested past the recursion limit": raw_frame(b"[" * 100_000 + b"]" * 100_000),
    "integer with too many digits": raw_frame(b'{"kind":"r","id":' + b"9" * 5000 + b',"body":null,"buffers":[]}'),
    # buffer table
    "buffer table a dict": raw_frame(good_header(buffers={"0": 4}), b"\0" * 4),
    "buffer table null": raw_frame(good_header(buffers=None)),
    "negative buffer size": raw_frame(good_header(buffers=[-4, 8]), b"\0" * 4),
    "float buffer size": raw_frame(good_header(buffers=[4.0]), b"\0" * 4),
    "boolean buffer size": raw_frame(good_header(buffers=[True]), b"\0"),
    "buffer size over the frame cap": raw_frame(good_header(buffers=[wire.MAX_FRAME_BYTES + 1])),
    "payload longer than the table": raw_frame(good_header(buffers=[4]), b"\0" * 5),
    "payload shorter than the table": raw_frame(good_header(buffers=[4]), b"\0" * 3),
    "payload without a table": raw_frame(good_header(), b"\0"),
    # tensor objects
    "tensor dict with an extra key": raw_frame(
        good_header(body={"__tensor__": info(), "x": 1}, buffers=[4]), b"\0" * 4),
    "tensor metadata with an extra key": tensor_frame(extra=1),
    "tensor metadata missing a key": raw_frame(good_header(
        body={"__tensor__": {k: v for k, v in info().items() if k != "storage"}}, buffers=[4]), b"\0" * 4),
    "tensor metadata not a dict": raw_frame(good_header(body={"__tensor__": [0]}, buffers=[4]), b"\0" * 4),
    "unknown dtype": tensor_frame(b"\0" * 8, dtype="complex64"),
    "dtype spelled as torch prints it": tensor_frame(dtype="torch.float32"),
    "dtype not a string": tensor_frame(dtype=6),
    "shape not a list": tensor_frame(shape=1),
    "shape with a negative dim": tensor_frame(shape=[-1]),
    "shape with negative dims that multiply to a valid size": tensor_frame(b"\0" * 4, shape=[-1, -1]),
    "shape with a float dim": tensor_frame(shape=[1.0]),
    "shape with a boolean dim": tensor_frame(shape=[True]),
    "shape with too many dims": tensor_frame(shape=[1] * 17),
    "one dim over the element cap": tensor_frame(shape=[MAX_TENSOR_ELEMENTS + 1]),
    "element count over the cap": tensor_frame(shape=[4096, 4096]),
    "buffer shorter than shape x itemsize": tensor_frame(b"\0" * 4, shape=[2]),
    "buffer longer than shape x itemsize": tensor_frame(b"\0" * 8, shape=[1]),
    "float64 buffer sized for float32": tensor_frame(b"\0" * 8, dtype="float64", shape=[2]),
    "bfloat16 buffer sized for float32": tensor_frame(b"\0" * 8, dtype="bfloat16", shape=[2]),
    "0-dim tensor with an empty buffer": tensor_frame(b"", shape=[]),
    "empty tensor with a non-empty buffer": tensor_frame(b"\0" * 4, shape=[0]),
    "buffer index out of range": tensor_frame(buffer=1),
    "negative buffer index": tensor_frame(buffer=-1),
    "buffer index a boolean": tensor_frame(buffer=False),
    "buffer index a string": tensor_frame(buffer="0"),
    "a buffer referenced by two tensors": two_tensors_one_buffer(),
    "a grad reusing its tensor's buffer": grad_reusing_its_parents_buffer(),
    "requires_grad not a boolean": tensor_frame(requires_grad=1),
    "is_leaf not a boolean": tensor_frame(is_leaf=None),
    "grad_fn not a string": tensor_frame(grad_fn=["MulBackward0"]),
    "grad_fn too long": tensor_frame(grad_fn="x" * 201),
    "storage not an integer": tensor_frame(storage="0x7f"),
    "storage a float": tensor_frame(storage=1.5),
    "grad not a tensor": tensor_frame(grad=[1.0]),
    "grad a tensor with extra keys": tensor_frame(grad={"__tensor__": info(buffer=1), "x": 0}),
    # plain data caps
    "lists nested deeper than MAX_DEPTH": raw_frame(good_header(body=nested_lists(MAX_DEPTH + 1))),
    "dicts nested deeper than MAX_DEPTH": raw_frame(good_header(body=nested_dicts(MAX_DEPTH + 1))),
    "more than MAX_ITEMS values": raw_frame(good_header(body=[0] * wire.MAX_ITEMS)),
    "a string over MAX_STRING": raw_frame(good_header(body="x" * (wire.MAX_STRING + 1))),
}


@pytest.mark.parametrize("frame", INVALID_FRAMES.values(), ids=INVALID_FRAMES.keys())
def test_the_decoder_rejects_an_invalid_frame_with_a_wire_error(frame):
    with pytest.raises(WireError):
        wire.decode_frame(frame)


def test_the_header_length_cap_is_checked_before_the_header_is_read():
    with pytest.raises(WireError, match="exceeds the cap"):
        wire.read_header_length(struct.pack(">I", MAX_HEADER_BYTES + 1))
    assert wire.read_header_length(struct.pack(">I", MAX_HEADER_BYTES)) == MAX_HEADER_BYTES


def test_a_frame_over_max_frame_bytes_is_rejected_before_parsing():
    frame = raw_frame(good_header(buffers=[wire.MAX_FRAME_BYTES]), bytes(wire.MAX_FRAME_BYTES))
    with pytest.raises(WireError, match="too short or too long"):
        wire.decode_frame(frame)


def test_nesting_exactly_max_depth_is_accepted():
    for body in (nested_lists(MAX_DEPTH), nested_dicts(MAX_DEPTH)):
        assert wire.decode_frame(raw_frame(good_header(body=body)))[2] == body
        assert round_trip(body) == body


def test_a_tensor_at_the_element_cap_is_accepted():
    frame = tensor_frame(b"\0" * MAX_TENSOR_ELEMENTS, dtype="uint8", shape=[MAX_TENSOR_ELEMENTS])
    assert wire.decode_frame(frame)[2].shape == (MAX_TENSOR_ELEMENTS,)


def test_a_tensor_with_16_dims_is_accepted():
    assert wire.decode_frame(tensor_frame(shape=[1] * 16))[2].shape == (1,) * 16


def test_an_unreferenced_buffer_is_tolerated():
    frame = raw_frame(good_header(body=1, buffers=[3]), b"abc")
    assert wire.decode_frame(frame) == ("r", 1, 1)


@pytest.mark.parametrize("shape", [
    [0, MAX_TENSOR_ELEMENTS, MAX_TENSOR_ELEMENTS, MAX_TENSOR_ELEMENTS],
    [MAX_TENSOR_ELEMENTS, MAX_TENSOR_ELEMENTS, MAX_TENSOR_ELEMENTS, MAX_TENSOR_ELEMENTS, 0],
], ids=["zero-first", "zero-last"])
def test_an_empty_tensor_with_huge_dims_is_rejected_with_a_wire_error(shape):
    with pytest.raises(WireError):
        wire.decode_frame(tensor_frame(b"", shape=shape))


def test_a_chain_of_grads_deeper_than_max_depth_is_rejected():
    levels = MAX_DEPTH + 5
    body = None
    for index in range(levels):
        body = {"__tensor__": info(buffer=index, grad=body)}
    frame = raw_frame(good_header(body=body, buffers=[4] * levels), b"\0" * 4 * levels)
    with pytest.raises(WireError):
        wire.decode_frame(frame)


# ----------------------------------------------------------------------------- fuzzing
def decode_or_wire_error(frame: bytes) -> None:
    try:
        wire.decode_frame(frame)
    except WireError:
        pass


@FUZZ
@given(st.binary(max_size=300))
def test_arbitrary_bytes_decode_or_raise_wire_error(data):
    decode_or_wire_error(data)


@FUZZ
@given(header=st.binary(max_size=200), payload=st.binary(max_size=64))
def test_arbitrary_headers_with_a_consistent_length_decode_or_raise_wire_error(header, payload):
    decode_or_wire_error(struct.pack(">I", len(header)) + header + payload)


def _valid_frame() -> bytes:
    w = torch.tensor([[1.0, -2.0]], requires_grad=True)
    (w ** 2).sum().backward()
    return wire.encode_frame("reply", 3, {
        "w": w, "y": w * 2, "n": [1, 2.5, None, True, "s"],
        "b": torch.tensor([True, False]), "h": torch.ones(3, dtype=torch.bfloat16),
        "e": torch.zeros(0, 2, dtype=torch.int64), "z": torch.tensor(7, dtype=torch.int8)})


VALID_FRAME = _valid_frame()


def test_the_fuzzing_seed_frame_is_valid():
    assert wire.decode_frame(VALID_FRAME)[0] == "reply"


@st.composite
def mutated_frames(draw):
    frame = bytearray(VALID_FRAME)
    for _ in range(draw(st.integers(1, 6))):
        op = draw(st.sampled_from(["flip", "set", "delete", "insert", "truncate"]))
        pos = draw(st.integers(0, max(len(frame) - 1, 0)))
        if op == "flip" and frame:
            frame[pos] ^= 1 << draw(st.integers(0, 7))
        elif op == "set" and frame:
            frame[pos] = draw(st.sampled_from(b'0123456789-[]{}",:.e\xff\x00 tfn'))
        elif op == "delete":
            del frame[pos:pos + draw(st.integers(1, 8))]
        elif op == "insert":
            frame[pos:pos] = draw(st.binary(min_size=1, max_size=8))
        else:
            del frame[pos:]
    return bytes(frame)


@FUZZ
@given(mutated_frames())
def test_mutations_of_a_valid_frame_decode_or_raise_wire_error(frame):
    decode_or_wire_error(frame)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2 ** 64), 2 ** 64) | st.floats() | st.text(max_size=12),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4),
    max_leaves=12)
dims = st.integers(-2, 70) | st.sampled_from([MAX_TENSOR_ELEMENTS, MAX_TENSOR_ELEMENTS + 1])
field_values = {
    "buffer": json_values | st.integers(-1, 3),
    "dtype": json_values | st.sampled_from(sorted(wire.DTYPES) + ["complex64", "float"]),
    "shape": json_values | st.lists(dims, max_size=17),
    "requires_grad": json_values,
    "is_leaf": json_values,
    "grad": json_values | st.builds(lambda i: {"__tensor__": i}, st.builds(info, buffer=st.integers(0, 3))),
    "grad_fn": json_values | st.text(min_size=190, max_size=210),
    "storage": json_values,
}


@st.composite
def tensor_frames_with_fuzzed_metadata(draw):
    meta = info()
    for key in draw(st.sets(st.sampled_from(sorted(field_values)), min_size=1)):
        meta[key] = draw(field_values[key])
    sizes = draw(st.lists(st.sampled_from([0, 1, 2, 4, 8, 12, 16]), min_size=0, max_size=4))
    body = draw(st.sampled_from(["bare", "in-list", "in-dict"]))
    tensor = {"__tensor__": meta}
    body = {"bare": tensor, "in-list": [1, tensor], "in-dict": {"t": tensor}}[body]
    return raw_frame({"kind": "r", "id": 1, "body": body, "buffers": sizes}, b"\0" * sum(sizes))


@FUZZ
@given(tensor_frames_with_fuzzed_metadata())
def test_fuzzed_tensor_metadata_decodes_or_raises_wire_error(frame):
    decode_or_wire_error(frame)


@FUZZ
@given(kind=json_values, msg_id=json_values, body=json_values, buffers=json_values | st.lists(st.integers(-2, 8)))
def test_fuzzed_header_fields_decode_or_raise_wire_error(kind, msg_id, body, buffers):
    decode_or_wire_error(raw_frame({"kind": kind, "id": msg_id, "body": body, "buffers": buffers},
                                   b"\0" * 8))


# ----------------------------------------------------------------------------- no code execution
FORBIDDEN_NAMES = {"pickle", "cPickle", "_pickle", "marshal", "dill", "cloudpickle", "shelve",
                   "joblib", "eval", "exec", "compile", "__import__", "literal_eval", "load"}


def test_the_wire_module_neither_unpickles_nor_evaluates_anything():
    tree = ast.parse(Path(wire.__file__).read_text(encoding="utf-8"))
    used = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            used |= {part for alias in node.names for part in alias.name.split(".")}
        elif isinstance(node, ast.ImportFrom):
            used |= set((node.module or "").split(".")) | {alias.name for alias in node.names}
        elif isinstance(node, ast.Name):
            used.add(node.id)
        elif isinstance(node, ast.Attribute):
            used.add(node.attr)
    assert not used & FORBIDDEN_NAMES
