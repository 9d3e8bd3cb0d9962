"""The sandboxed child: the only process in which student code ever runs.

Forked from the zygote, it redirects its stdio, applies the confinement layers
(:func:`grader.sandbox.layers.confine`), then receives the exercise's driver and the
student's source over its channel, imports both as modules from memory, and answers
``call`` frames until the trusted side hangs up. It replies with plain data only; the
trusted side believes nothing it says without validating it.
"""

from __future__ import annotations

import contextlib
import ctypes
import inspect
import io
import linecache
import os
import signal
import socket
import sys
import tempfile
import traceback
import types
from typing import Any, NoReturn

import torch

from grader.sandbox import wire
from grader.sandbox import driver_kit, graph_probe, layers
from grader.sandbox.channel import Channel

EXIT_SETUP_FAILED = 70
_PR_SET_PDEATHSIG = 1
# Seeding only the CPU generator costs ~1 us; torch.manual_seed() also visits every device (~60 us).
_default_generator = torch.default_generator
_MEMORY_MARKERS = ("can't allocate memory", "not enough memory", "out of memory",
                   "failed to allocate", "cannot allocate memory")


def run_child(chan_fd: int, output_path: str, limits: "layers.Limits",
              confinement: "layers.Confinement", cgroup: Any, enabled: frozenset[str]) -> NoReturn:
    """Entry point right after fork. Never returns."""
    status = 0
    try:
        _die_with_parent()
        os.setsid()  # own process group: the parent kills the whole group
        _redirect_stdio(output_path)
        os.closerange(3, chan_fd)
        os.closerange(chan_fd + 1, 65536)
        # Work inside the scratch dir: relative paths (plt.savefig("loss.png")) and tempfile
        # (whose cached default the zygote already computed) must land there.
        os.chdir(confinement.scratch_dir)
        tempfile.tempdir = confinement.scratch_dir
        try:
            layers.confine(limits, confinement, cgroup, enabled)
        except layers.LayerError as exc:
            _report_setup_failure(chan_fd, f"sandbox layer {exc.layer!r} failed: {exc.detail}")
            os._exit(EXIT_SETUP_FAILED)
        serve(Channel(socket.socket(fileno=chan_fd)))
    except BaseException:  # noqa: BLE001 - nothing may escape the child
        status = EXIT_SETUP_FAILED
    finally:
        _flush()
        os._exit(status)


def _die_with_parent() -> None:
    """If the zygote dies, take the child down with it rather than leave an orphan running."""
    parent = os.getppid()
    ctypes.CDLL(None).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent:
        os._exit(EXIT_SETUP_FAILED)


def _redirect_stdio(output_path: str) -> None:
    null = os.open("/dev/null", os.O_RDONLY)
    os.dup2(null, 0)
    out = os.open(output_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    os.dup2(out, 1)
    os.dup2(out, 2)
    os.close(null)
    os.close(out)
    sys.stdout = open(1, "w", buffering=1, encoding="utf-8", errors="replace", closefd=False)
    sys.stderr = open(2, "w", buffering=1, encoding="utf-8", errors="replace", closefd=False)


def _report_setup_failure(chan_fd: int, message: str) -> None:
    try:
        Channel(socket.socket(fileno=chan_fd)).send("setup-error", 0, {"message": message})
    except OSError:
        pass


def _flush() -> None:
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except Exception:  # noqa: BLE001 - the student may have replaced or broken the streams
            pass


# ----------------------------------------------------------------------------- serving
def _prefault() -> None:
    """Touch what a typical call touches, before the submission arrives.

    A forked child first pays copy-on-write faults on the zygote's heap (allocator metadata,
    refcounts of torch objects); a spare child does this while the previous submission is
    still being graded, so the first real call does not.
    """
    x = torch.ones(8, 1)
    w = torch.zeros(1, requires_grad=True)
    optimizer = torch.optim.SGD([w], lr=0.1, momentum=0.9)
    for _ in range(3):
        loss = torch.nn.functional.mse_loss(w * x, x)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    wire.decode_frame(wire.encode_frame("warm", 0, {"t": w, "x": [1.0, "s", None]}))


def serve(chan: Channel) -> None:
    _prefault()
    header, buffers = chan.receive()
    load = wire.decode_body(header, buffers)
    driver, student, problem = _load(load)
    if problem is not None:
        _flush()
        chan.send("load-error", header["id"], problem)
        return
    _flush()
    chan.send("ready", header["id"], {"python": sys.version.split()[0], "torch": torch.__version__})
    while True:
        try:
            header, buffers = chan.receive()
        except EOFError:
            return
        if header["kind"] != "call":
            return
        kind, body = _answer(driver, student, wire.decode_body(header, buffers, _real_tensor))
        _flush()
        try:
            frame = wire.encode_frame(kind, header["id"], body)
        except wire.WireError as exc:
            frame = wire.encode_frame("contract", header["id"], {
                "message": f"the submission returned a value that cannot be reported: {exc}"})
        chan.send_raw(frame)


def _load(load: dict) -> tuple[Any, Any, dict | None]:
    driver = types.ModuleType("exercise_driver")
    exec(compile(load["driver_source"], "<exercise driver>", "exec"), driver.__dict__)
    filename = load["filename"]
    source = load["source"]
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    student = types.ModuleType("submission")
    student.__file__ = filename
    sys.modules["submission"] = student
    try:
        code = compile(source, filename, "exec")
    except SyntaxError as exc:
        return driver, student, {"reason": "syntax", "type": "SyntaxError",
                                 "message": f"{exc.msg} (line {exc.lineno})", "traceback": ""}
    try:
        exec(code, student.__dict__)
    except SystemExit as exc:
        return driver, student, {"reason": "exit", "type": "SystemExit",
                                 "message": f"the submission called sys.exit({exc.code!r}) while being imported",
                                 "traceback": _student_traceback(exc, filename)}
    except BaseException as exc:  # noqa: BLE001
        return driver, student, {"reason": "import", **_describe_error(exc, filename)}
    return driver, student, _check_entry_points(student, load["entry_points"])


def _check_entry_points(student: Any, entry_points: dict[str, list[str]]) -> dict | None:
    for name, params in entry_points.items():
        obj = student.__dict__.get(name)
        if obj is None:
            return {"reason": "missing", "type": "NameError",
                    "message": f"the submission does not define `{name}`", "traceback": ""}
        if not callable(obj):
            return {"reason": "signature", "type": "TypeError",
                    "message": f"`{name}` must be a function or class, not {type(obj).__name__}",
                    "traceback": ""}
        try:
            inspect.signature(obj).bind(*params)
        except (TypeError, ValueError):
            try:
                shown = f"{name}{inspect.signature(obj)}"
            except (TypeError, ValueError):
                shown = name
            return {"reason": "signature", "type": "TypeError",
                    "message": f"`{shown}` cannot be called as `{name}({', '.join(params)})`",
                    "traceback": ""}
    return None


def _answer(driver: Any, student: Any, call: dict) -> tuple[str, dict | Any]:
    name = call.get("fn")
    function = getattr(driver, name, None) if isinstance(name, str) and name.startswith("run_") else None
    if function is None:
        return "contract", {"message": f"unknown driver function {name!r}"}
    if call.get("graph") is True:
        return _graph_of(function, student, call)
    try:
        _default_generator.manual_seed(int(call.get("seed", 0)))
        return "result", function(student, **call.get("args", {}))
    except driver_kit.ContractViolation as exc:
        return "contract", {"message": str(exc)}
    except MemoryError:
        return "memory", {"message": "the submission ran out of memory"}
    except BaseException as exc:  # noqa: BLE001 - includes SystemExit from student code
        if isinstance(exc, RuntimeError) and any(m in str(exc).lower() for m in _MEMORY_MARKERS):
            return "memory", {"message": "the submission ran out of memory"}
        return "error", _describe_error(exc, getattr(student, "__file__", "submission.py"))


def _graph_of(function: Any, student: Any, call: dict) -> tuple[str, dict]:
    """Run the call again under :class:`graph_probe.GraphRecorder` and reply with the autograd
    graph it built. The student's exceptions are swallowed: the graph up to the failure is
    what is wanted (a rebinding stub raises TypeError right after its second backward)."""
    args = call.get("args", {})
    recorder = graph_probe.GraphRecorder(args, getattr(student, "__file__", None))
    try:
        _default_generator.manual_seed(int(call.get("seed", 0)))
        # What it prints was printed by the first run already: keep it out of the output.
        with contextlib.redirect_stdout(_DISCARD), contextlib.redirect_stderr(_DISCARD), recorder:
            function(student, **args)
    except MemoryError:
        return "memory", {"message": "the submission ran out of memory"}
    except BaseException as exc:  # noqa: BLE001 - includes SystemExit from student code
        if isinstance(exc, RuntimeError) and any(m in str(exc).lower() for m in _MEMORY_MARKERS):
            return "memory", {"message": "the submission ran out of memory"}
    return "graph", recorder.report()


class _Discard(io.TextIOBase):
    def write(self, text: str) -> int:
        return len(text)


_DISCARD = _Discard()


def _describe_error(exc: BaseException, filename: str) -> dict:
    message = str(exc)
    if len(message) > 2000:
        message = message[:2000] + " ..."
    return {"type": type(exc).__name__, "message": message,
            "traceback": _student_traceback(exc, filename)}


def _student_traceback(exc: BaseException, filename: str) -> str:
    """The traceback cut down to the student's own frames: what they can act on."""
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if f.filename == filename]
    lines = [f'  line {f.lineno}, in {f.name}\n    {(f.line or "").strip()}' for f in frames[-8:]]
    return "\n".join(lines)


def _real_tensor(values: torch.Tensor, meta: dict, grad: Any) -> torch.Tensor:
    if meta["requires_grad"] and values.is_floating_point():
        values.requires_grad_(True)
        if grad is not None:
            values.grad = grad
    return values
