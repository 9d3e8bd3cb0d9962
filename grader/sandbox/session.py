"""One confined child holding one imported submission, seen from the trusted side.

``Session.begin()`` sends one plain-data request and ``finish()`` reads and
validates the reply. Every way a child can misbehave maps to an exception the grading code
turns into a verdict:

- ``StudentError`` (an ``Exception``): the student's code raised; hypothesis may shrink it.
- ``ContractViolation``: the student returned the wrong kind of thing.
- ``LoadError``: the submission could not be imported.
- ``SandboxVerdict`` (a ``BaseException``, so hypothesis does not try to shrink it): timeout,
  memory, crash or invalid reply. The session is dead afterwards.
"""

from __future__ import annotations

import os
import select
import signal
import socket
from dataclasses import asdict
from typing import TYPE_CHECKING, Any

from grader.sandbox import wire
from grader.engine.results import Verdict
from grader.i18n.text import N_, T, Text
from grader.sandbox.channel import Channel, ChannelClosed, ChannelTimeout

if TYPE_CHECKING:
    from grader.sandbox.client import LoadRequest, Sandbox

OUTPUT_CAP = 16 << 10


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

    def begin(self, fn: str, args: dict[str, Any], deadline: float, seed: int = 0) -> None:
        """Send a call without waiting: the trusted side can compute its reference meanwhile."""
        if not self.alive:
            raise SandboxVerdict(Verdict.CRASHED, N_("the submission's process is no longer running"))
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

    def graph(self, fn: str, args: dict[str, Any], deadline: float, seed: int = 0) -> Any:
        """Run the call again with the graph recorder on, and return the graph it reports
        (plain data, not validated yet: see :func:`grader.engine.graph.validate`)."""
        if not self.alive:
            raise SandboxVerdict(Verdict.CRASHED, N_("the submission's process is no longer running"))
        if self._unanswered is not None:  # a check gave up on a reply: read it and drop it
            try:
                self.finish(self._unanswered)
            except (StudentError, ContractViolation):
                pass
        self._send("call", {"fn": fn, "args": args, "seed": seed, "graph": True})
        kind, body = self._receive(deadline)
        if kind == "graph":
            return body
        if kind == "memory":
            self._die(Verdict.MEMORY, "the submission ran out of memory")
        message = body.get("message") if isinstance(body, dict) else None
        raise ContractViolation(str(message) if message else f"unexpected reply kind {kind!r} to a graph call")

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
            self._die(Verdict.TIMEOUT, N_("the submission did not finish within the time limit"))
        except (ChannelClosed, BrokenPipeError, ConnectionResetError):
            self._die(*self._death_verdict())
        except wire.WireError as exc:
            self._die(Verdict.INVALID_REPLY, T("invalid reply from submission: {problem}", problem=str(exc)))
        if header["kind"] == "setup-error":  # sent with id 0, before any request was read
            body = header["body"]
            detail = body.get("message") if isinstance(body, dict) else body
            self._die(Verdict.CRASHED, T("the sandbox could not be set up: {detail}", detail=str(detail)))
        if header["id"] != self._next_id:
            self._die(Verdict.INVALID_REPLY, N_("invalid reply from submission: it answered out of turn"))
        try:
            return header["kind"], wire.decode_body(header, buffers)
        except wire.WireError as exc:
            self._die(Verdict.INVALID_REPLY, T("invalid reply from submission: {problem}", problem=str(exc)))
        raise AssertionError("unreachable")

    def _death_verdict(self) -> tuple[Verdict, str]:
        select.select([self.pidfd], [], [], 0.5)  # let an exiting child finish exiting
        info = self.close()
        sig = info.get("signal")
        if info.get("oom"):
            return Verdict.MEMORY, N_("the submission was stopped for using too much memory")
        if sig == signal.SIGXCPU:
            return Verdict.TIMEOUT, N_("the submission used more CPU time than allowed")
        if sig == signal.SIGXFSZ:
            return Verdict.CRASHED, N_("the submission wrote more output than allowed")
        if sig is not None:
            return Verdict.CRASHED, T("the submission's process was killed by signal {signal}", signal=signal.Signals(sig).name)
        return Verdict.CRASHED, T("the submission's process exited (status {status}) before answering; "
                                 "did it call os._exit() or sys.exit()?", status=info.get("exit_code"))

    def _die(self, verdict: Verdict, message: "str | Text"):
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
