"""Confinement layers applied in a forked child before untrusted code runs.

Why: student code runs inside a child forked from the torch-warm zygote, and
no single mechanism is enough on its own.  The layers, applied in
``LAYER_NAMES`` order, each close a different hole:

1. cgroup       memory + pids accounting for the whole process tree
2. rlimits      CPU seconds (SIGXCPU then SIGKILL), address space, file size,
                open files, no core dumps
3. namespaces   fresh user/net/ipc/uts namespaces, all capabilities dropped
4. landlock     read-only python/libs, read-write scratch, no TCP, no signals
                or abstract sockets outside the sandbox
5. seccomp      deny-list of dangerous syscalls (exec, ptrace, mount, ...)
6. environment  only the given variables survive

The order matters: joining a cgroup and raising limits need root, namespaces
then drop the capabilities, Landlock needs /proc to be read before it, and
seccomp forbids the syscalls the earlier layers used.  Call :func:`preload`
in the parent (zygote) so nothing must be imported or read after fork.
"""

from __future__ import annotations

import ctypes
import json
import os
import resource
import select
import shutil
import signal
import site
import sys
import sysconfig
import tempfile
import time
from dataclasses import dataclass

from . import cgroups, landlock, seccomp_filter

LAYER_NAMES = ("cgroup", "rlimits", "namespaces", "landlock", "seccomp", "environment")

CLONE_NEWUTS, CLONE_NEWIPC = 0x04000000, 0x08000000
CLONE_NEWUSER, CLONE_NEWNET = 0x10000000, 0x40000000
SYS_capset = 126  # x86_64
LINUX_CAPABILITY_VERSION_3 = 0x20080522
PR_CAPBSET_DROP, PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, PR_SET_NO_NEW_PRIVS = 24, 47, 4, 38
SANDBOX_UID = SANDBOX_GID = 65534

#: seconds spent in each layer by the last confine() call in this process
last_timings: dict[str, float] = {}


@dataclass(frozen=True)
class Limits:
    cpu_seconds: int = 10            # RLIMIT_CPU soft; hard = soft + 1
    memory_bytes: int = 1 << 30      # address space on top of current VmSize; cgroup memory limit
    max_processes: int = 16          # pids.max
    max_file_bytes: int = 8 << 20    # RLIMIT_FSIZE (also caps captured stdout/stderr files)
    max_open_files: int = 64         # RLIMIT_NOFILE


@dataclass(frozen=True)
class Confinement:
    scratch_dir: str                 # the only writable directory
    readable_paths: tuple[str, ...]  # read-only grants
    environment: dict[str, str]      # the complete environment student code will see


@dataclass(frozen=True)
class LayerStatus:
    name: str
    available: bool
    detail: str


class LayerError(Exception):
    """An enabled layer could not be applied; the child must not run code."""

    def __init__(self, layer: str, detail: str) -> None:
        super().__init__(f"{layer}: {detail}")
        self.layer = layer
        self.detail = detail


def default_readable_paths() -> tuple[str, ...]:
    """Read-only grants a Python + torch child needs (existing, resolved, unique)."""
    candidates: list[str] = [sys.prefix, sys.base_prefix, sys.exec_prefix]
    try:
        candidates += site.getsitepackages()
    except AttributeError:  # pragma: no cover - virtualenv's old site.py
        pass
    paths = sysconfig.get_paths()
    candidates += [paths[k] for k in ("stdlib", "platstdlib", "purelib", "platlib") if k in paths]
    candidates += ["/usr/lib", "/usr/lib64", "/lib", "/lib64", "/usr/share/zoneinfo",
                   "/usr/share/fonts", "/etc/ld.so.cache", "/etc/localtime", "/etc/fonts"]
    seen: dict[str, None] = {}
    for path in candidates:
        real = os.path.realpath(path)
        if os.path.exists(real):
            seen.setdefault(real, None)
    return tuple(seen)


def _check(res: int, what: str) -> None:
    if res < 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")


def preload() -> None:
    """Import/load everything confine() needs (call in the zygote before fork)."""
    landlock.libc()
    seccomp_filter.prepare()


# -- the layers ----------------------------------------------------------------

def _apply_cgroup(cgroup: "cgroups.ChildCgroup | None") -> None:
    if cgroup is None:
        raise OSError("no ChildCgroup was created for this child")
    cgroup.join()


def _vm_size() -> int:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmSize:"):
                return int(line.split()[1]) * 1024
    raise OSError("VmSize missing from /proc/self/status")


def _apply_rlimits(limits: Limits) -> None:
    cpu = max(1, int(limits.cpu_seconds))
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))
    address_space = _vm_size() + int(limits.memory_bytes)
    resource.setrlimit(resource.RLIMIT_AS, (address_space, address_space))
    resource.setrlimit(resource.RLIMIT_FSIZE, (limits.max_file_bytes, limits.max_file_bytes))
    resource.setrlimit(resource.RLIMIT_NOFILE, (limits.max_open_files, limits.max_open_files))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    resource.setrlimit(resource.RLIMIT_NPROC, (limits.max_processes, limits.max_processes))


def _cap_last_cap() -> int:
    try:
        with open("/proc/sys/kernel/cap_last_cap") as fh:
            return int(fh.read())
    except (OSError, ValueError):
        return 63


def _apply_namespaces() -> None:
    libc = landlock.libc()
    uid, gid = os.geteuid(), os.getegid()
    last_cap = _cap_last_cap()
    ctypes.set_errno(0)
    _check(libc.unshare(CLONE_NEWUSER | CLONE_NEWNET | CLONE_NEWIPC | CLONE_NEWUTS),
           "unshare (the child must be single-threaded)")
    cgroups.write_file("/proc/self/setgroups", "deny")
    cgroups.write_file("/proc/self/uid_map", f"{SANDBOX_UID} {uid} 1")
    cgroups.write_file("/proc/self/gid_map", f"{SANDBOX_GID} {gid} 1")
    libc.sethostname(b"sandbox", 7)  # best effort: do not leak the host name
    for cap in range(last_cap + 1):
        if libc.prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0 and ctypes.get_errno() != 22:
            _check(-1, f"PR_CAPBSET_DROP({cap})")
    libc.prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0)
    header = (ctypes.c_uint32 * 2)(LINUX_CAPABILITY_VERSION_3, 0)
    data = (ctypes.c_uint32 * 6)()  # 2 x {effective, permitted, inheritable}, all zero
    _check(libc.syscall(ctypes.c_long(SYS_capset), header, data), "capset")
    _check(libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "PR_SET_NO_NEW_PRIVS")
    if os.getuid() != SANDBOX_UID:
        raise OSError(f"uid is {os.getuid()} after the user namespace, expected {SANDBOX_UID}")


def _apply_landlock(confinement: Confinement) -> int:
    if not os.path.isdir(confinement.scratch_dir):
        raise OSError(f"scratch_dir {confinement.scratch_dir!r} is not a directory")
    return landlock.restrict(confinement.readable_paths, (confinement.scratch_dir,))


def _apply_environment(confinement: Confinement) -> None:
    os.environ.clear()
    os.environ.update(confinement.environment)


def confine(limits: Limits, confinement: Confinement, cgroup: "cgroups.ChildCgroup | None",
            enabled: frozenset[str]) -> list[str]:
    """Called in the forked child, before any untrusted code. Applies the
    enabled layers in LAYER_NAMES order; raises LayerError(name, detail) if an
    enabled layer fails. Returns the names applied."""
    unknown = set(enabled) - set(LAYER_NAMES)
    if unknown:
        raise ValueError(f"unknown layers: {sorted(unknown)}")
    steps = {
        "cgroup": lambda: _apply_cgroup(cgroup),
        "rlimits": lambda: _apply_rlimits(limits),
        "namespaces": _apply_namespaces,
        "landlock": lambda: _apply_landlock(confinement),
        "seccomp": seccomp_filter.install,
        "environment": lambda: _apply_environment(confinement),
    }
    applied: list[str] = []
    last_timings.clear()
    if "seccomp" in enabled:  # build now: after Landlock, pyseccomp could not be imported
        try:
            seccomp_filter.prepare()
        except Exception as exc:  # noqa: BLE001
            raise LayerError("seccomp", f"{type(exc).__name__}: {exc}") from exc
    for name in LAYER_NAMES:
        if name not in enabled:
            continue
        start = time.perf_counter()
        try:
            steps[name]()
        except LayerError:
            raise
        except Exception as exc:  # noqa: BLE001 - any failure must stop the child
            raise LayerError(name, f"{type(exc).__name__}: {exc}") from exc
        last_timings[name] = time.perf_counter() - start
        applied.append(name)
    return applied


# -- probing ---------------------------------------------------------------------

def _probe_child(write_fd: int, cgroup: "cgroups.ChildCgroup | None", scratch: str) -> None:
    """Try every layer in a throwaway child; report {name: [ok, detail]}."""
    results: dict[str, list] = {}
    confinement = Confinement(scratch, default_readable_paths(), {"PATH": "/usr/bin:/bin"})
    for name in LAYER_NAMES:
        try:
            if name == "cgroup" and cgroup is None:
                raise LayerError(name, "could not create a probe cgroup")
            confine(Limits(cpu_seconds=5), confinement, cgroup, frozenset({name}))
            results[name] = [True, ""]
        except LayerError as exc:
            results[name] = [False, exc.detail]
    os.write(write_fd, json.dumps(results).encode())


def probe_layers() -> list[LayerStatus]:
    """Detect which layers work here WITHOUT confining the caller: one
    throwaway child tries them all in order and reports through a pipe."""
    try:
        preload()
    except Exception:  # noqa: BLE001 - e.g. no libseccomp: the child reports it
        pass
    cg_ok, cg_detail = cgroups.cgroups_available()
    sc_ok, sc_detail = seccomp_filter.available()
    abi = landlock.abi_version()
    details = {
        "cgroup": cg_detail,
        "rlimits": "RLIMIT_CPU, AS, FSIZE, NOFILE, CORE, NPROC",
        "namespaces": "user+net+ipc+uts namespaces, uid 65534, capabilities dropped",
        "landlock": f"Landlock ABI {abi}" if abi else "Landlock unsupported by the kernel",
        "seccomp": sc_detail,
        "environment": "environment replaced",
    }
    cgroup = None
    if cg_ok:
        try:
            cgroup = cgroups.ChildCgroup.create(f"probe-{os.getpid()}-{time.monotonic_ns()}",
                                                64 << 20, 4)
        except OSError as exc:
            details["cgroup"] = f"cannot create a child cgroup: {exc}"
    scratch = tempfile.mkdtemp(prefix="grader-probe-")
    read_fd, write_fd = os.pipe()
    results: dict[str, list] = {}
    try:
        pid = os.fork()
        if pid == 0:  # pragma: no cover - runs in the child
            try:
                os.close(read_fd)
                _probe_child(write_fd, cgroup, scratch)
            finally:
                os._exit(0)
        os.close(write_fd)
        write_fd = -1
        data, deadline = b"", time.monotonic() + 5.0
        while select.select([read_fd], [], [], max(0.0, deadline - time.monotonic()))[0]:
            chunk = os.read(read_fd, 65536)
            if not chunk:
                break
            data += chunk
        os.kill(pid, signal.SIGKILL)  # a no-op on the (unreaped) zombie of a child that is done
        os.waitpid(pid, 0)
        try:
            results = json.loads(data or b"{}")
        except ValueError:
            pass
    finally:
        os.close(read_fd)
        if write_fd >= 0:
            os.close(write_fd)
        if cgroup is not None:
            cgroup.remove()
        shutil.rmtree(scratch, ignore_errors=True)
    statuses = []
    for name in LAYER_NAMES:
        ok, why = results.get(name, [False, "probe child did not report"])
        if name == "seccomp" and not sc_ok:
            ok, why = False, sc_detail
        statuses.append(LayerStatus(name, bool(ok), details[name] if ok else why))
    return statuses
