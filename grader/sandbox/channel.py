"""Frames over a connected Unix stream socket, with a deadline on every read.

The trusted side never blocks on the sandbox: every receive has a deadline, and the
caps in :mod:`grader.sandbox.wire` are checked on the header before its payload is read (at most
64 KiB beyond a frame is read ahead).
"""

from __future__ import annotations

import select
import socket
import time
from typing import Any

from grader.sandbox import wire


class ChannelClosed(EOFError):
    """The peer closed the socket (or died) before a whole frame arrived."""


class ChannelTimeout(TimeoutError):
    """The deadline passed before a whole frame arrived."""


class Channel:
    def __init__(self, sock: socket.socket, watch_fd: int | None = None):
        self.sock = sock
        # A second fd to watch while waiting (a pidfd: readable once the child has exited).
        self.watch_fd = watch_fd
        self._buffer = bytearray()  # bytes received beyond the frame being read

    def fileno(self) -> int:
        return self.sock.fileno()

    def send(self, kind: str, msg_id: int, body: Any) -> None:
        self.sock.sendall(wire.encode_frame(kind, msg_id, body))

    def send_raw(self, frame: bytes) -> None:
        self.sock.sendall(frame)

    def receive(self, deadline: float | None = None) -> tuple[dict, list[bytes]]:
        """Read one frame; returns its validated header and its raw buffers."""
        length = wire.read_header_length(self._read_exactly(4, deadline))
        header = wire.parse_header(self._read_exactly(length, deadline))
        payload = self._read_exactly(sum(header["buffers"]), deadline)
        return header, wire.split_buffers(payload, header["buffers"])

    def _read_exactly(self, n: int, deadline: float | None) -> bytes:
        """Read n bytes; whole frames usually arrive in one recv, so buffer what comes."""
        while len(self._buffer) < n:
            self._wait_readable(deadline)
            chunk = self.sock.recv(max(n - len(self._buffer), 1 << 16))
            if not chunk:
                raise ChannelClosed("the sandboxed process closed the channel")
            self._buffer += chunk
        data = bytes(self._buffer[:n])
        del self._buffer[:n]
        return data

    def _wait_readable(self, deadline: float | None) -> None:
        if deadline is None:
            return
        while True:
            timeout = deadline - time.monotonic()
            if timeout <= 0:
                raise ChannelTimeout("no reply before the deadline")
            fds = [self.sock.fileno()] + ([self.watch_fd] if self.watch_fd is not None else [])
            ready, _, _ = select.select(fds, [], [], timeout)
            if self.sock.fileno() in ready:
                return
            if ready:  # only the pidfd: the child is gone; drain what it left, then EOF
                self.sock.setblocking(False)
                try:
                    peek = self.sock.recv(1, socket.MSG_PEEK)
                except BlockingIOError:
                    peek = b""
                finally:
                    self.sock.setblocking(True)
                if peek:
                    return
                raise ChannelClosed("the sandboxed process exited")

    def close(self) -> None:
        try:
            self.sock.close()
        except OSError:
            pass
