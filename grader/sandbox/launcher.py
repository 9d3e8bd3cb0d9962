"""Starting the fork server process, without importing torch here.

The ``grader`` command launches the fork server first thing, so that its ``import torch`` and
warm-up run on the other core while the command itself imports torch and hypothesis.
:class:`grader.sandbox.client.Sandbox` then connects to it (or launches one itself).
"""

from __future__ import annotations

import socket
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import IO


@dataclass
class LaunchedZygote:
    process: subprocess.Popen
    control: socket.socket  # SOCK_SEQPACKET, the grader's end
    stderr: IO[bytes]  # a file, not a pipe nobody drains: a chatty fork server must never block


def launch() -> LaunchedZygote:
    parent, child = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    package_root = str(Path(__file__).resolve().parents[2])
    env = {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", "OMP_NUM_THREADS": "1",
           "MKL_NUM_THREADS": "1", "PYTHONHASHSEED": "0", "PYTHONDONTWRITEBYTECODE": "1",
           "MPLBACKEND": "Agg", "PYTHONPATH": package_root, "HOME": "/nonexistent"}
    stderr = tempfile.TemporaryFile()
    process = subprocess.Popen(
        [sys.executable, "-m", "grader.sandbox.zygote", str(child.fileno())],
        pass_fds=[child.fileno()], env=env, cwd="/", stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL, stderr=stderr)
    child.close()
    return LaunchedZygote(process, parent, stderr)
