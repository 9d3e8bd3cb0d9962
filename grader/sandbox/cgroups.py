"""Per-submission memory + pids cgroups (cgroup v1, else cgroup v2).

Why: rlimits are per process, so a submission that forks can multiply its
memory and, because RLIMIT_NPROC is not enforced for uid 0, fork without
bound.  A cgroup accounts for the whole process tree: ``pids.max`` stops fork
bombs, ``memory.limit_in_bytes`` caps the tree's resident memory, and the
parent can find and SIGKILL every descendant (even orphans reparented to
init) by reading ``cgroup.procs``.

Life cycle: the (root) parent calls :meth:`ChildCgroup.create` before fork;
the child calls :meth:`ChildCgroup.join` before any untrusted code runs; after
the child is reaped the parent asks :meth:`ChildCgroup.oom_killed` and then
:meth:`ChildCgroup.remove`.  Child cgroups are created beneath the process's
OWN cgroup of each hierarchy (from ``/proc/self/cgroup``), never at the root.
Where the host has no v1 ``memory``/``pids`` hierarchies, the same groups are made in the
unified (v2) hierarchy (:mod:`grader.sandbox.cgroups_v2` finds and prepares the place).
"""

from __future__ import annotations

import errno
import os
import signal
import time

from grader.sandbox import cgroups_v2

CONTROLLERS = ("memory", "pids")
_DEFAULT_MOUNT = "/sys/fs/cgroup"


def _v1_mounts() -> dict[str, tuple[str, str]]:
    """controller -> (mount point, mount root) for every cgroup v1 mount."""
    found: dict[str, tuple[str, str]] = {}
    for point, root, options in cgroups_v2.mounts("cgroup", "/proc/self/mountinfo"):
        for opt in options:
            if opt in CONTROLLERS:
                found.setdefault(opt, (point, root))
    return found


def _own_paths() -> dict[str, str]:
    """controller -> this process's cgroup path (v1 lines of /proc/self/cgroup)."""
    own: dict[str, str] = {}
    with open("/proc/self/cgroup") as fh:
        for line in fh.read().splitlines():
            parts = line.split(":", 2)
            if len(parts) != 3:
                continue
            for ctrl in parts[1].split(","):
                if ctrl in CONTROLLERS:
                    own[ctrl] = parts[2]
    return own


def _base_dirs() -> dict[str, str]:
    """controller -> directory of this process's own cgroup; raises OSError."""
    mounts, own = _v1_mounts(), _own_paths()
    bases: dict[str, str] = {}
    for ctrl in CONTROLLERS:
        if ctrl not in own:
            raise OSError(errno.ENOENT, f"no cgroup v1 '{ctrl}' hierarchy in /proc/self/cgroup")
        mount, root = mounts.get(ctrl, (os.path.join(_DEFAULT_MOUNT, ctrl), "/"))
        rel = own[ctrl]
        if root != "/" and (rel == root or rel.startswith(root.rstrip("/") + "/")):
            rel = rel[len(root.rstrip("/")):]
        base = os.path.join(mount, rel.lstrip("/"))
        if not os.path.isfile(os.path.join(base, "cgroup.procs")):
            raise OSError(errno.ENOENT, f"cgroup v1 '{ctrl}' not mounted at {base}")
        bases[ctrl] = base
    return bases


def _layout() -> tuple[int, dict[str, str]]:
    """(cgroup version, controller -> base directory): v1 where the host has the memory and
    pids hierarchies, else v2 (one directory for both); raises OSError naming both reasons."""
    try:
        return 1, _base_dirs()
    except OSError as v1_error:
        try:
            base = cgroups_v2.base_dir()
        except OSError as v2_error:
            raise OSError(errno.ENOENT, f"{v1_error.strerror or v1_error}; {v2_error.strerror or v2_error}") from None
        return 2, {ctrl: base for ctrl in CONTROLLERS}


def write_file(path: str, value: str) -> None:
    """One unbuffered write, as cgroup and /proc control files want it."""
    fd = os.open(path, os.O_WRONLY)
    try:
        os.write(fd, value.encode())
    finally:
        os.close(fd)


def _read_pids(path: str) -> list[int]:
    try:
        with open(path) as fh:
            return [int(x) for x in fh.read().split()]
    except (OSError, ValueError):
        return []


class ChildCgroup:
    """A memory+pids cgroup for one child. Created by the (root) parent before
    fork; the child joins itself; the parent kills and removes it after the
    child is reaped. In v1 it is one directory per controller, in v2 one for both."""

    def __init__(self, name: str, dirs: dict[str, str], version: int = 1) -> None:
        self.name = name
        self.dirs = dict(dirs)  # controller -> absolute cgroup directory
        self.version = version

    def _unique_dirs(self) -> list[str]:
        return list(dict.fromkeys(self.dirs.values()))

    def __repr__(self) -> str:
        return f"ChildCgroup({self.name!r}, {self.dirs!r})"

    @classmethod
    def create(cls, name: str, memory_bytes: int, max_pids: int) -> "ChildCgroup":
        """mkdir both cgroups and set their limits; raises OSError if not possible."""
        if not name or "/" in name or name in (".", ".."):
            raise ValueError(f"bad cgroup name {name!r}")
        version, bases = _layout()
        if version == 2:
            return cls._create_v2(name, bases["memory"], memory_bytes, max_pids)
        made: dict[str, str] = {}
        try:
            for ctrl in CONTROLLERS:
                path = os.path.join(bases[ctrl], name)
                os.mkdir(path, 0o755)
                made[ctrl] = path
            mem = made["memory"]
            write_file(os.path.join(mem, "memory.limit_in_bytes"), str(int(memory_bytes)))
            memsw = os.path.join(mem, "memory.memsw.limit_in_bytes")
            if os.path.exists(memsw):  # no swapping around the limit (must follow limit_in_bytes)
                try:
                    write_file(memsw, str(int(memory_bytes)))
                except OSError:
                    pass
            write_file(os.path.join(made["pids"], "pids.max"), str(int(max_pids)))
        except BaseException:
            cls(name, made).remove()
            raise
        return cls(name, made)

    @classmethod
    def _create_v2(cls, name: str, base: str, memory_bytes: int, max_pids: int) -> "ChildCgroup":
        path = os.path.join(base, name)
        os.mkdir(path, 0o755)
        made = cls(name, {ctrl: path for ctrl in CONTROLLERS}, version=2)
        try:
            write_file(os.path.join(path, "memory.max"), str(int(memory_bytes)))
            try:  # no swapping around the limit, where swap accounting exists
                write_file(os.path.join(path, "memory.swap.max"), "0")
            except OSError:
                pass
            write_file(os.path.join(path, "pids.max"), str(int(max_pids)))
        except BaseException:
            made.remove()
            raise
        return made

    def join(self) -> None:
        """Move the calling process into the cgroup(s) (called in the child)."""
        for path in self._unique_dirs():
            write_file(os.path.join(path, "cgroup.procs"), "0")

    def pids(self) -> set[int]:
        found: set[int] = set()
        for path in self._unique_dirs():
            found.update(_read_pids(os.path.join(path, "cgroup.procs")))
        return found

    def kill_all(self, timeout: float = 0.5) -> None:
        """SIGKILL every member, repeating until both cgroups are empty or the
        timeout passes (a fork bomb may add members while we kill)."""
        deadline = time.monotonic() + timeout
        if self.version == 2 and self.pids():
            try:  # the kernel kills the whole group at once (5.14 and later)
                write_file(os.path.join(self.dirs["pids"], "cgroup.kill"), "1")
            except OSError:
                pass
        while True:
            members = self.pids()
            if not members:
                return
            for pid in members:
                try:
                    os.kill(pid, signal.SIGKILL)
                except OSError:
                    pass
            if time.monotonic() > deadline:
                return
            time.sleep(0.002)

    def _read(self, ctrl: str, fname: str) -> str:
        path = self.dirs.get(ctrl)
        if not path:
            return ""
        try:
            with open(os.path.join(path, fname)) as fh:
                return fh.read()
        except OSError:
            return ""

    def oom_killed(self) -> bool:
        """True when the memory cgroup OOM-killed a member (``oom_kill`` in
        memory.oom_control, or memory.events in v2) or, on v1 kernels without
        that counter, when the limit was ever hit (memory.failcnt > 0)."""
        if self.version == 2:
            events = dict(line.partition(" ")[::2] for line in self._read("memory", "memory.events").splitlines())
            return any(events.get(key, "0").strip() not in ("", "0") for key in ("oom", "oom_kill"))
        oom = self._read("memory", "memory.oom_control")
        for line in oom.splitlines():
            key, _, value = line.partition(" ")
            if key == "oom_kill":
                return int(value or 0) > 0
            if key == "under_oom" and int(value or 0) > 0:
                return True
        failcnt = self._read("memory", "memory.failcnt").strip()
        return failcnt.isdigit() and int(failcnt) > 0

    def memory_peak(self) -> int:
        value = self._read("memory", "memory.peak" if self.version == 2 else "memory.max_usage_in_bytes").strip()
        return int(value) if value.isdigit() else 0

    def remove(self) -> None:
        """kill_all, then rmdir both cgroups; never raises."""
        try:
            self.kill_all()
        except Exception:
            pass
        for path in self._unique_dirs():
            deadline = time.monotonic() + 1.0
            while True:
                try:
                    os.rmdir(path)
                    break
                except FileNotFoundError:
                    break
                except OSError as exc:
                    if exc.errno != errno.EBUSY or time.monotonic() > deadline:
                        break
                    for pid in _read_pids(os.path.join(path, "cgroup.procs")):
                        try:
                            os.kill(pid, signal.SIGKILL)
                        except OSError:
                            pass
                    time.sleep(0.005)
                except Exception:
                    break


def cgroups_available() -> tuple[bool, str]:
    """Whether this process can create memory+pids child cgroups (v1, else v2)."""
    try:
        version, bases = _layout()
    except OSError as exc:
        return False, f"memory/pids cgroups not usable: {exc.strerror or exc}"
    for ctrl, base in bases.items():
        if not os.access(base, os.W_OK):
            return False, f"cgroup v{version} {ctrl} directory {base} is not writable"
    if version == 2:
        return True, f"cgroup v2 memory+pids under {bases['memory']}"
    own = _own_paths()
    return True, f"cgroup v1 memory+pids under memory:{own['memory']} pids:{own['pids']}"


def remove_stale(prefix: str) -> int:
    """Remove ``<prefix><pid>-*`` cgroups whose owner process is gone (a fork server that was
    SIGKILLed cannot clean up after itself); kills what is still inside. Returns how many."""
    try:
        version, bases = _layout()
    except OSError:
        return 0
    stale: dict[str, dict[str, str]] = {}
    for ctrl, base in bases.items():
        try:
            names = os.listdir(base)
        except OSError:
            continue
        for name in names:
            owner = name[len(prefix):].split("-", 1)[0] if name.startswith(prefix) else ""
            if owner.isdigit() and not os.path.exists(f"/proc/{owner}"):
                stale.setdefault(name, {})[ctrl] = os.path.join(base, name)
    for name, dirs in stale.items():
        ChildCgroup(name, dirs, version).remove()
    return len(stale)
