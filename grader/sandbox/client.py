"""The trusted side of the sandbox: a warm zygote and per-submission sessions.

``Sandbox`` owns one zygote process. ``Sandbox.open(load)`` forks a confined child, sends it
the exercise driver and the student's source, and returns a ``Session`` whose ``call()``
sends one plain-data request and validates the reply. Every way a child can misbehave maps
to an exception the grading code turns into a verdict:

- ``StudentError`` (an ``Exception``): the student's code raised; hypothesis may shrink it.
- ``ContractViolation``: the student returned the wrong kind of thing.
- ``SandboxVerdict`` (a ``BaseException``, so hypothesis does not try to shrink it): timeout,
  memory, crash or invalid reply. The session is dead afterwards.
"""

from __future__ import annotations

import json
import os
import select
import signal
import socket
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from typing import Any

from grader import wire
from grader.results import Verdict
from grader.sandbox import launcher, layers
from grader.sandbox.channel import Channel, ChannelClosed, ChannelTimeout

OUTPUT_CAP = 16 << 10
_ZYGOTE_START_SECONDS = 60.0


class SandboxUnavailable(RuntimeError):
    """A required sandbox layer is missing, or the zygote cannot start."""


class StudentError(Exception):
    def __init__(self, type_name: str, message: str, traceback: str = ""):
        super().__init__(f"{type_name}: {message}")
        self.type_name, self.message, self.traceback = type_name, message, traceback


class ContractViolation(Exception):
    pass


class LoadError(Exception):
    """The submission could not be imported (syntax error, missing name, exception at import)."""

    def __init__(self, reason: str, message: str, traceback: str = ""):
        super().__init__(message)
        self.reason, self.message, self.traceback = reason, message, traceback


class SandboxVerdict(BaseException):
    def __init__(self, verdict: Verdict, message: str):
        super().__init__(message)
        self.verdict, self.message = verdict, message


@dataclass(frozen=True)
class SandboxSettings:
    limits: layers.Limits = field(default_factory=layers.Limits)
    layers: frozenset[str] = frozenset(layers.LAYER_NAMES)
    unsafe: bool = False  # grade even if a layer is missing (development only, loudly logged)
    readable_paths: tuple[str, ...] = ()  # extra read-only grants on top of the defaults
    forbidden_paths: tuple[str, ...] = ()  # must NOT be readable (solutions/, the database ...)


@dataclass(frozen=True)
class LoadRequest:
    driver_source: str
    source: str
    filename: str
    entry_points: dict[str, list[str]]


class Sandbox:
    def __init__(self, settings: SandboxSettings | None = None,
                 launched: launcher.LaunchedZygote | None = None):
        """``launched``: a fork server already started with :func:`launcher.launch`."""
        self.settings = settings or SandboxSettings()
        self._launched = launched
        self._proc: subprocess.Popen | None = None
        self._stderr: Any = None
        self._control: socket.socket | None = None
        self._readable: tuple[str, ...] = ()
        self.layers_in_force: frozenset[str] = frozenset()
        self.warmup_seconds = 0.0
        # Requests sent without waiting (the next spare child, reaps): their replies are read,
        # in order, before the next reply anyone waits for.
        self._pending: list[tuple[str, Any]] = []
        self._spare: tuple[layers.Limits, socket.socket, dict] | None = None

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> "Sandbox":
        if self._proc is not None and self._proc.poll() is None:
            return self
        try:
            self._readable = self._readable_paths()
        except SandboxUnavailable:
            self._discard_launched()
            raise
        launched, self._launched = self._launched or launcher.launch(), None
        self._proc, self._control, self._stderr = launched.process, launched.control, launched.stderr
        hello = self._request(None, timeout=_ZYGOTE_START_SECONDS, startup=True)
        self.warmup_seconds = hello.get("warmup_seconds", 0.0)
        self._enforce_layers()
        return self

    def close(self) -> None:
        if self._control is not None:
            try:
                self._drain()
            except SandboxUnavailable:
                pass
            self._discard_spare()
            self._control.close()
            self._control = None
        self._pending.clear()
        if self._proc is not None:
            try:
                self._proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
            self._proc = None
        if self._stderr is not None:
            self._stderr.close()
            self._stderr = None

    def _discard_launched(self) -> None:
        if self._launched is not None:
            self._launched.control.close()
            self._launched.process.kill()
            self._launched.process.wait()
            self._launched.stderr.close()
            self._launched = None

    def __enter__(self) -> "Sandbox":
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def probe(self) -> list[layers.LayerStatus]:
        reply = self._request({"op": "probe"})
        return [layers.LayerStatus(**s) for s in reply["layers"]]

    def _enforce_layers(self) -> None:
        wanted = self.settings.layers
        missing = {s.name: s.detail for s in self.probe() if s.name in wanted and not s.available}
        if missing and not self.settings.unsafe:
            self.close()
            detail = "; ".join(f"{k}: {v}" for k, v in sorted(missing.items()))
            raise SandboxUnavailable(f"required sandbox layers are unavailable ({detail}); "
                                     "refusing to run student code. Use --unsafe-sandbox only "
                                     "for development on a kernel without them.")
        if missing:
            print(f"WARNING: UNSAFE SANDBOX: running student code without {sorted(missing)}",
                  file=sys.stderr)
        self.layers_in_force = frozenset(wanted) - frozenset(missing)

    def _readable_paths(self) -> tuple[str, ...]:
        paths = tuple(dict.fromkeys(layers.default_readable_paths() + self.settings.readable_paths))
        for secret in self.settings.forbidden_paths:
            secret = os.path.realpath(secret)
            for granted in paths:
                if secret == granted or secret.startswith(granted.rstrip("/") + "/"):
                    raise SandboxUnavailable(
                        f"{secret} would be readable from the sandbox because {granted} is "
                        "granted; move the bank out of the Python installation")
        return paths

    # ------------------------------------------------------------------ control requests
    def _request(self, request: dict | None, fds: list[int] = (), timeout: float = 30.0,
                 startup: bool = False) -> dict:
        if self._control is None:
            raise SandboxUnavailable("the fork server is not running")
        if request is not None:
            try:
                socket.send_fds(self._control, [json.dumps(request).encode()], list(fds))
            except OSError as exc:
                raise SandboxUnavailable(f"the fork server is gone: {exc}") from None
        self._drain()
        return self._reply(timeout, startup)

    def _send_async(self, request: dict, fds: list[int], purpose: str, context: Any = None) -> None:
        if self._control is None:
            raise SandboxUnavailable("the fork server is not running")
        try:
            socket.send_fds(self._control, [json.dumps(request).encode()], list(fds))
        except OSError as exc:
            raise SandboxUnavailable(f"the fork server is gone: {exc}") from None
        self._pending.append((purpose, context))

    def _drain(self, until_spare: bool = False) -> None:
        """Read the replies of requests sent without waiting, oldest first (with
        ``until_spare``, only as far as the spare child's: later reaps need not be waited for)."""
        while self._pending and not (until_spare and self._spare is not None):
            purpose, context = self._pending.pop(0)
            try:
                reply = self._reply(30.0)
            except SandboxUnavailable:
                if purpose == "spare":
                    context[1].close()
                self._pending.clear()
                raise
            if purpose == "spare":
                self._spare = (context[0], context[1], reply)

    def _reply(self, timeout: float, startup: bool = False) -> dict:
        assert self._control is not None
        self._control.settimeout(timeout)
        try:
            data, got_fds, _, _ = socket.recv_fds(self._control, 1 << 20, 2)
        except (socket.timeout, OSError) as exc:
            raise SandboxUnavailable(f"the fork server did not answer: {exc}") from None
        if not data:
            raise SandboxUnavailable(f"the fork server exited. {self._zygote_stderr() if startup else ''}".strip())
        reply = json.loads(data)
        reply["_fds"] = got_fds
        if not reply.get("ok"):
            for fd in got_fds:
                os.close(fd)
            raise SandboxUnavailable(f"fork server error: {reply.get('error')}")
        return reply

    def _zygote_stderr(self) -> str:
        if self._stderr is None:
            return ""
        self._stderr.seek(0)
        return self._stderr.read()[-2000:].decode(errors="replace")

    # ------------------------------------------------------------------ sessions
    def open(self, load: LoadRequest, wall_seconds: float,
             limits: layers.Limits | None = None) -> "Session":
        """Import the submission in a confined child: the spare one if it fits, else a new one.

        A spare child is forked as soon as the previous one is taken, so fork and confinement
        overlap the checks of the submission before.
        """
        limits = limits or self.settings.limits
        try:
            sock, reply = self._fork_child(limits)
        except SandboxUnavailable:  # the fork server died or wedged: replace it, once
            self.close()
            sock, reply = self._fork_child(limits)
        session = Session(self, sock, reply["pid"], reply["_fds"][0], reply["output"])
        session.load(load, time.monotonic() + wall_seconds)
        return session

    def _fork_child(self, limits: layers.Limits) -> tuple[socket.socket, dict]:
        if self._proc is None or self._proc.poll() is not None:
            self.close()
            self.start()
        try:
            self._drain(until_spare=True)
            taken = self._take_spare(limits)
            if taken is None:
                ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
                try:
                    reply = self._request(self._spawn_request(limits), [theirs.fileno()])
                except SandboxUnavailable:
                    ours.close()
                    raise
                finally:
                    theirs.close()
                taken = (ours, reply)
            self._spawn_spare(limits)
        except SandboxUnavailable:
            self.close()
            raise
        return taken

    def _spawn_request(self, limits: layers.Limits) -> dict:
        return {"op": "spawn", "limits": asdict(limits), "layers": sorted(self.layers_in_force),
                "readable_paths": list(self._readable)}

    def _spawn_spare(self, limits: layers.Limits) -> None:
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            self._send_async(self._spawn_request(limits), [theirs.fileno()], "spare", (limits, ours))
        finally:
            theirs.close()

    def _take_spare(self, limits: layers.Limits) -> tuple[socket.socket, dict] | None:
        spare, self._spare = self._spare, None
        if spare is None:
            return None
        spare_limits, sock, reply = spare
        pidfd = reply["_fds"][0]
        exited = select.select([pidfd], [], [], 0)[0]
        if spare_limits != limits or exited:
            self._spare = spare
            self._discard_spare()
            return None
        return sock, reply

    def _discard_spare(self) -> None:
        spare, self._spare = self._spare, None
        if spare is not None:
            _, sock, reply = spare
            sock.close()
            os.close(reply["_fds"][0])
            self.reap(reply["pid"], wait=False)

    def reap(self, pid: int, wait: bool = True) -> dict:
        """Collect a child; without ``wait`` the zygote's answer is read later."""
        try:
            if not wait:
                self._send_async({"op": "reap", "pid": pid}, [], "reap")
                return {"exit_code": None, "signal": None, "killed": True, "oom": False}
            return self._request({"op": "reap", "pid": pid})
        except SandboxUnavailable:  # the next open() replaces a dead fork server
            return {"exit_code": None, "signal": None, "killed": True, "oom": False}


class Session:
    """One confined child holding one imported submission."""

    def __init__(self, sandbox: Sandbox, sock: socket.socket, pid: int, pidfd: int, output: str):
        self.sandbox, self.pid, self.pidfd, self.output_path = sandbox, pid, pidfd, output
        self.channel = Channel(sock, watch_fd=pidfd)
        self._next_id = 0
        self._unanswered: float | None = None  # deadline of a call whose reply is unread
        self._output_offset = 0
        self.alive = True
        self.exit: dict | None = None

    def load(self, load: LoadRequest, deadline: float) -> dict:
        kind, body = self._exchange("load", asdict(load), deadline)
        if kind == "load-error" and isinstance(body, dict):
            self.close()
            message = str(body.get("message"))
            if body.get("reason") == "import":
                message = f"{body.get('type')}: {message}"
            raise LoadError(str(body.get("reason")), message, str(body.get("traceback", "")))
        if kind != "ready":
            self._die(Verdict.INVALID_REPLY, f"unexpected {kind!r} reply while loading")
        return body

    def call(self, fn: str, args: dict[str, Any], deadline: float, seed: int = 0) -> Any:
        self.begin(fn, args, deadline, seed)
        return self.finish(deadline)

    def begin(self, fn: str, args: dict[str, Any], deadline: float, seed: int = 0) -> None:
        """Send a call without waiting: the trusted side can compute its reference meanwhile."""
        if not self.alive:
            raise SandboxVerdict(Verdict.CRASHED, "the submission's process is no longer running")
        if self._unanswered is not None:  # a check gave up on a reply: read it and drop it
            try:
                self.finish(self._unanswered)
            except (StudentError, ContractViolation):
                pass
        self._send("call", {"fn": fn, "args": args, "seed": seed})
        self._unanswered = deadline

    def finish(self, deadline: float) -> Any:
        """Wait for the reply to the call sent by :meth:`begin`, and interpret it."""
        self._unanswered = None
        kind, body = self._receive(deadline)
        if kind == "result":
            return body
        if kind == "error" and isinstance(body, dict):
            raise StudentError(str(body.get("type")), str(body.get("message")),
                               str(body.get("traceback", "")))
        if kind == "contract" and isinstance(body, dict):
            raise ContractViolation(str(body.get("message")))
        if kind == "memory":
            self._die(Verdict.MEMORY, "the submission ran out of memory")
        self._die(Verdict.INVALID_REPLY, f"unexpected reply kind {kind!r}")

    def _exchange(self, kind: str, body: Any, deadline: float) -> tuple[str, Any]:
        self._send(kind, body)
        return self._receive(deadline)

    def _send(self, kind: str, body: Any) -> None:
        self._next_id += 1
        try:
            self.channel.send(kind, self._next_id, body)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the child is gone: _receive() finds out why

    def _receive(self, deadline: float) -> tuple[str, Any]:
        try:
            header, buffers = self.channel.receive(deadline)
        except ChannelTimeout:
            self._die(Verdict.TIMEOUT, "the submission did not finish within the time limit")
        except (ChannelClosed, BrokenPipeError, ConnectionResetError):
            self._die(*self._death_verdict())
        except wire.WireError as exc:
            self._die(Verdict.INVALID_REPLY, f"invalid reply from submission: {exc}")
        if header["id"] != self._next_id:
            self._die(Verdict.INVALID_REPLY, "invalid reply from submission: it answered out of turn")
        if header["kind"] == "setup-error":
            self._die(Verdict.CRASHED, f"the sandbox could not be set up: {header['body']}")
        try:
            return header["kind"], wire.decode_body(header, buffers)
        except wire.WireError as exc:
            self._die(Verdict.INVALID_REPLY, f"invalid reply from submission: {exc}")
        raise AssertionError("unreachable")

    def _death_verdict(self) -> tuple[Verdict, str]:
        select.select([self.pidfd], [], [], 0.5)  # let an exiting child finish exiting
        info = self.close()
        sig = info.get("signal")
        if info.get("oom"):
            return Verdict.MEMORY, "the submission was stopped for using too much memory"
        if sig == signal.SIGXCPU:
            return Verdict.TIMEOUT, "the submission used more CPU time than allowed"
        if sig == signal.SIGXFSZ:
            return Verdict.CRASHED, "the submission wrote more output than allowed"
        if sig is not None:
            return Verdict.CRASHED, f"the submission's process was killed by signal {signal.Signals(sig).name}"
        return Verdict.CRASHED, (f"the submission's process exited (status {info.get('exit_code')}) "
                                 "before answering; did it call os._exit() or sys.exit()?")

    def _die(self, verdict: Verdict, message: str):
        self.close()
        raise SandboxVerdict(verdict, message)

    def read_output(self) -> str:
        """What the submission printed since the last call (capped)."""
        try:
            with open(self.output_path, "rb") as f:
                f.seek(self._output_offset)
                data = f.read(OUTPUT_CAP + 1)
                self._output_offset = f.seek(0, os.SEEK_END)
        except OSError:
            return ""
        text = data[:OUTPUT_CAP].decode("utf-8", errors="replace")
        return text + ("\n[output truncated]" if len(data) > OUTPUT_CAP else "")

    def close(self, wait: bool = True) -> dict:
        """Kill the child; with ``wait``, also learn how it ended (needed for a verdict)."""
        if self.exit is not None:
            return self.exit
        self.alive = False
        try:
            signal.pidfd_send_signal(self.pidfd, signal.SIGKILL)
        except (ProcessLookupError, OSError):
            pass
        self.channel.close()
        self.exit = self.sandbox.reap(self.pid, wait=wait)
        os.close(self.pidfd)
        return self.exit
