"""The trusted side of the sandbox: a warm fork server, and the children it forks.

``Sandbox`` owns one zygote process (:mod:`grader.sandbox.zygote`). ``Sandbox.open(load)``
takes a confined child (the spare one forked ahead of time, or a new one), sends it the
exercise driver and the student's source, and returns a :class:`~grader.sandbox.session.Session`
through which the checks call the submission. A missing sandbox layer, or a fork server that
cannot be started, is :class:`SandboxUnavailable`.
"""

from __future__ import annotations

import json
import os
import select
import socket
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from typing import Any

from grader.sandbox import launcher, layers
from grader.sandbox.session import (  # noqa: F401 - re-exported: the grading side's API
    ContractViolation, LoadError, SandboxVerdict, Session, StudentError)

_ZYGOTE_START_SECONDS = 60.0


class SandboxUnavailable(RuntimeError):
    """A required sandbox layer is missing, or the zygote cannot start."""


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
        _one_torch_thread()
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


def _one_torch_thread() -> None:
    """The process that owns a sandbox computes its references while the child runs on the
    other core: with torch's default two threads the two fight, and a small backward took
    30 ms instead of 1.4 ms under load. Imported here (not at module level) because the CLI
    launches the fork server before it imports torch."""
    import torch

    torch.set_num_threads(1)
