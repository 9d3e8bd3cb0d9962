"""Seccomp-BPF deny list for the confined child (via pyseccomp / libseccomp).

Why: Landlock and namespaces cover files, TCP and signals, but not the rest of
the kernel attack surface.  This filter is the last layer: it refuses (with
EPERM, so Python raises a clean PermissionError) everything a numerical
submission never needs and an attacker loves: new sockets (socketpair stays), ptrace and
cross-process memory access, mounts and namespaces, credential changes,
program execution, kernel modules/keys/bpf/perf/io_uring/userfaultfd, and
changing the sandbox itself (landlock_*, unshare, setns).  The default is
ALLOW so torch, numpy and CPython keep working.  fork/vfork/clone stay
allowed (the pids cgroup bounds them) unless clone asks for a new namespace;
clone3 answers ENOSYS because its flags sit behind a pointer that seccomp
cannot inspect, and glibc then falls back to clone.  Syscalls from a foreign
ABI (i386 int 0x80, x32) kill the process.

The filter is built once (ideally in the zygote via :func:`prepare`) and
loaded after fork by :func:`install`, so nothing is imported or read from
disk after Landlock is in force.
"""

from __future__ import annotations

import errno
import socket
from typing import Any

# Every syscall here answers EPERM unconditionally.
DENIED_SYSCALLS: tuple[str, ...] = (
    "ptrace", "process_vm_readv", "process_vm_writev",
    "mount", "umount2", "pivot_root", "chroot", "unshare", "setns",
    "fsopen", "fsconfig", "fsmount", "fspick", "move_mount", "open_tree", "mount_setattr",
    "setuid", "setgid", "setreuid", "setregid", "setresuid", "setresgid",
    "setgroups", "setfsuid", "setfsgid", "setsid", "setpgid",
    "kexec_load", "kexec_file_load", "init_module", "finit_module", "delete_module",
    "reboot", "swapon", "swapoff", "bpf", "perf_event_open",
    "keyctl", "add_key", "request_key", "userfaultfd",
    "execve", "execveat",
    "io_uring_setup", "io_uring_enter", "io_uring_register",
    "personality", "acct", "quotactl",
    "landlock_create_ruleset", "landlock_add_rule", "landlock_restrict_self",
)

# clone(2) flags that create namespaces (CLONE_NEWTIME, 0x80, is deliberately
# absent: in clone(2) the low byte is the exit signal, only clone3/unshare take it).
CLONE_NAMESPACE_FLAGS: tuple[int, ...] = (
    0x00020000,  # CLONE_NEWNS
    0x02000000,  # CLONE_NEWCGROUP
    0x04000000,  # CLONE_NEWUTS
    0x08000000,  # CLONE_NEWIPC
    0x10000000,  # CLONE_NEWUSER
    0x20000000,  # CLONE_NEWPID
    0x40000000,  # CLONE_NEWNET
)

# socket(AF_UNIX) is refused too, although the original design allowed it:
# Landlock (ABI <= 7) does not mediate connect() to *pathname* unix sockets, so
# a child could reach e.g. /run/postgresql/.s.PGSQL.5432 or mysqld.sock as the
# outside uid 0.  socketpair(2) stays allowed (already-connected pairs reach
# nothing), and inherited sockets keep working.  Set True to allow AF_UNIX.
ALLOW_UNIX_SOCKET = False

_prepared: Any = None  # a built pyseccomp.SyscallFilter, reused after fork
_skipped: tuple[str, ...] = ()


def _nr(seccomp: Any, name: str) -> int:
    return int(seccomp.resolve_syscall(seccomp.Arch.NATIVE, name))


def build() -> Any:
    """Build (but do not load) the filter; returns a pyseccomp.SyscallFilter."""
    global _skipped
    import pyseccomp as sc

    eperm = sc.ERRNO(errno.EPERM)
    flt = sc.SyscallFilter(sc.ALLOW)
    flt.set_attr(sc.Attr.ACT_BADARCH, sc.KILL_PROCESS)
    try:
        flt.set_attr(sc.Attr.CTL_TSYNC, 1)  # all threads, should any exist
    except OSError:
        pass  # old kernel/libseccomp: a single-threaded child is fine without it
    skipped = []

    def rule(action: int, name: str, *args: Any) -> None:
        nr = _nr(sc, name)
        if nr < 0:  # unknown to this libseccomp / architecture
            skipped.append(name)
            return
        flt.add_rule(action, nr, *args)

    for name in DENIED_SYSCALLS:
        rule(eperm, name)
    if ALLOW_UNIX_SOCKET:
        rule(eperm, "socket", sc.Arg(0, sc.NE, socket.AF_UNIX))
    else:
        rule(eperm, "socket")
    for flag in CLONE_NAMESPACE_FLAGS:
        # x86_64: clone(flags, stack, parent_tid, child_tid, tls) -> flags is arg0.
        rule(eperm, "clone", sc.Arg(0, sc.MASKED_EQ, flag, flag))
    rule(sc.ERRNO(errno.ENOSYS), "clone3")
    _skipped = tuple(skipped)
    return flt


def prepare() -> None:
    """Import pyseccomp, load libseccomp and prebuild the filter (zygote side)."""
    global _prepared
    if _prepared is None:
        _prepared = build()


def install() -> None:
    """Load the filter into the calling process (all threads if possible).

    Raises OSError/RuntimeError on failure.  Sets no_new_privs (libseccomp default).
    """
    flt = _prepared if _prepared is not None else build()
    try:
        flt.load()
    except OSError as exc:
        raise OSError(exc.errno, f"seccomp_load failed: {exc.strerror}") from None


def skipped_syscalls() -> tuple[str, ...]:
    """Names of the last built filter that libseccomp did not know."""
    return _skipped


def available() -> tuple[bool, str]:
    """Whether pyseccomp/libseccomp load and the kernel supports filter mode."""
    try:
        import ctypes

        import pyseccomp as sc
    except (ImportError, OSError) as exc:
        return False, f"pyseccomp/libseccomp unavailable: {exc}"
    try:
        lib = sc._libseccomp  # pylint: disable=protected-access
        version = "?"
        if hasattr(lib, "seccomp_version"):
            class _Ver(ctypes.Structure):
                _fields_ = [("major", ctypes.c_uint), ("minor", ctypes.c_uint),
                            ("micro", ctypes.c_uint)]
            lib.seccomp_version.restype = ctypes.POINTER(_Ver)
            v = lib.seccomp_version().contents
            version = f"{v.major}.{v.minor}.{v.micro}"
        api = sc.get_api()
    except Exception as exc:  # pragma: no cover - defensive
        return False, f"libseccomp unusable: {exc}"
    if api < 1:
        return False, f"libseccomp {version}: kernel lacks seccomp filter support (API {api})"
    return True, f"seccomp-bpf via libseccomp {version} (API level {api})"
