"""The fork server ("zygote"): pays for ``import torch`` once, then forks a child per submission.

Started by :class:`grader.sandbox.client.Zygote` as ``python -m grader.sandbox.zygote FD``
with an empty environment. It imports torch, pins it to one thread *before any op* (forking
after OpenMP has spun up its pool hangs children), warms up autograd, ``torch.optim``
(its first step imports ~800 modules) and matplotlib, and preloads the sandbox layers, so that
a child needs nothing from the filesystem once it is confined.

It never runs student code and never holds exercise checks, reference solutions or secrets:
only the driver-side code above. Requests arrive as JSON datagrams on a SOCK_SEQPACKET
control socket; ``spawn`` carries the child's channel socket as an SCM_RIGHTS fd and is
answered with the child's pid and a pidfd, so the grader can kill the child race-free.
"""

from __future__ import annotations

import ctypes
import gc
import json
import os
import shutil
import signal
import socket
import sys
import tempfile
import time
import warnings
from typing import Any

MAX_REQUEST = 1 << 16
CGROUP_PREFIX = "torch-grader-"
PR_SET_PDEATHSIG = 1


def warm_up() -> None:
    """Import and exercise everything a child may need, so nothing is loaded after confinement."""
    import numpy  # noqa: F401
    import torch

    torch.set_num_threads(1)
    torch.set_num_interop_threads(1)
    from grader import specs  # noqa: F401
    from grader.sandbox import wire  # noqa: F401
    from grader.sandbox import child, driver_kit, layers  # noqa: F401

    specs.exercise_torch()
    x = torch.ones(3, requires_grad=True)
    torch.nn.MSELoss()(x, x.detach())
    torch.randn(2, 2).clamp(min=0) @ torch.rand(2, 2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:  # matplotlib is optional for grading, but notebooks that plot must still grade
            import matplotlib

            matplotlib.use("Agg")
            import matplotlib.pyplot as plt

            plt.figure()
            plt.plot([0, 1], [1, 0])
            plt.close("all")
        except Exception:  # noqa: BLE001
            pass
    layers.preload()


class Zygote:
    def __init__(self, control: socket.socket):
        self.control = control
        self.children: dict[int, tuple[Any, str]] = {}
        self.scratch_base = tempfile.mkdtemp(prefix="torch-grader-")

    def serve(self) -> None:
        while True:
            try:
                data, fds, _, _ = socket.recv_fds(self.control, MAX_REQUEST, 4)
            except OSError:
                break
            if not data:
                break
            try:
                request = json.loads(data)
                reply, reply_fds = self.handle(request, fds)
            except Exception as exc:  # noqa: BLE001 - report, keep serving
                for fd in fds:
                    _close(fd)
                reply, reply_fds = {"ok": False, "error": f"{type(exc).__name__}: {exc}"}, []
            socket.send_fds(self.control, [json.dumps(reply).encode()], reply_fds)
            for fd in reply_fds:
                _close(fd)
        self.shutdown()

    def handle(self, request: dict, fds: list[int]) -> tuple[dict, list[int]]:
        op = request.get("op")
        if op == "spawn":
            return self.spawn(request, fds[0])
        if op == "reap":
            return self.reap(int(request["pid"])), []
        if op == "probe":
            from grader.sandbox import layers

            return {"ok": True, "layers": [vars(s) for s in layers.probe_layers()]}, []
        if op == "ping":
            return {"ok": True, "pid": os.getpid()}, []
        raise ValueError(f"unknown op {op!r}")

    def spawn(self, request: dict, chan_fd: int) -> tuple[dict, list[int]]:
        from grader.sandbox import child, layers
        from grader.sandbox.cgroups import ChildCgroup

        limits = layers.Limits(**request["limits"])
        enabled = frozenset(request["layers"])
        scratch = tempfile.mkdtemp(dir=self.scratch_base)
        output = os.path.join(scratch, ".output")
        open(output, "wb").close()
        os.chmod(scratch, 0o700)
        cgroup = None
        if "cgroup" in enabled:
            cgroup = ChildCgroup.create(f"{CGROUP_PREFIX}{os.getpid()}-{os.path.basename(scratch)}",
                                        limits.memory_bytes, limits.max_processes)
        confinement = layers.Confinement(
            scratch_dir=scratch,
            readable_paths=tuple(request["readable_paths"]),
            environment={"HOME": scratch, "TMPDIR": scratch, "MPLBACKEND": "Agg",
                         "MPLCONFIGDIR": scratch, "OMP_NUM_THREADS": "1",
                         "PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"},
        )
        pid = os.fork()
        if pid == 0:
            self.control.close()
            child.run_child(chan_fd, output, limits, confinement, cgroup, enabled)
        _close(chan_fd)
        pidfd = os.pidfd_open(pid)
        self.children[pid] = (cgroup, scratch)
        return {"ok": True, "pid": pid, "scratch": scratch, "output": output}, [pidfd]

    def reap(self, pid: int) -> dict:
        """Collect a child: its exit status, then kill whatever it left behind and clean up."""
        if pid not in self.children:  # e.g. a reap meant for a fork server that was replaced
            return {"ok": True, "exit_code": None, "signal": None, "killed": False, "oom": False}
        cgroup, scratch = self.children.pop(pid)
        done, status = os.waitpid(pid, os.WNOHANG)
        killed = False
        if not done:
            killed = True
            _killpg(pid)
            _, status = os.waitpid(pid, 0)
        _killpg(pid)  # grandchildren stay in the child's process group (setsid is forbidden)
        oom = False
        if cgroup is not None:
            oom = cgroup.oom_killed()
            cgroup.remove()
        shutil.rmtree(scratch, ignore_errors=True)
        return {"ok": True, "exit_code": os.WEXITSTATUS(status) if os.WIFEXITED(status) else None,
                "signal": os.WTERMSIG(status) if os.WIFSIGNALED(status) else None,
                "killed": killed, "oom": oom}

    def shutdown(self) -> None:
        for pid in list(self.children):
            try:
                self.reap(pid)
            except OSError:
                pass
        shutil.rmtree(self.scratch_base, ignore_errors=True)


def _killpg(pgid: int) -> None:
    try:
        os.killpg(pgid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def _close(fd: int) -> None:
    try:
        os.close(fd)
    except OSError:
        pass


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    ctypes.CDLL(None).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)  # die with the grader
    control = socket.socket(fileno=int(argv[0]))
    started = time.perf_counter()
    warm_up()
    from grader.sandbox.cgroups import remove_stale

    remove_stale(CGROUP_PREFIX)
    # Park everything imported so far in the permanent generation: the children's garbage
    # collections then never walk (and copy-on-write) the zygote's pages.
    gc.collect()
    gc.freeze()
    socket.send_fds(control, [json.dumps({"ok": True, "pid": os.getpid(),
                                          "warmup_seconds": time.perf_counter() - started}).encode()], [])
    Zygote(control).serve()


if __name__ == "__main__":
    main()
