"""Landlock filesystem, network and scope restriction via raw syscalls (ctypes).

Why: the child still runs as uid 0 on the outside (the user namespace maps
its uid 65534 to root), so file permissions protect nothing; Landlock is what
keeps submissions out of /root, /proc, /etc, the project's solutions/ and
everything else that is not granted.  It also forbids TCP bind/connect
(ABI >= 4) and, with scoping (ABI >= 6), signalling or connecting to abstract
unix sockets of any process outside the sandbox (parent, zygote, grader).

Landlock is unprivileged and stackable: once :func:`restrict` returns, the
calling thread and all its future children are confined for good.
Python 3.11 has no binding, so the three syscalls are called through libc's
``syscall()`` with x86_64 numbers.
"""

from __future__ import annotations

import ctypes
import os
import stat
from collections.abc import Iterable

SYS_landlock_create_ruleset = 444
SYS_landlock_add_rule = 445
SYS_landlock_restrict_self = 446

LANDLOCK_CREATE_RULESET_VERSION = 1 << 0
LANDLOCK_RULE_PATH_BENEATH = 1
LANDLOCK_RULE_NET_PORT = 2
PR_SET_NO_NEW_PRIVS = 38

# Filesystem access rights, by the ABI that introduced them.
FS_EXECUTE = 1 << 0
FS_WRITE_FILE = 1 << 1
FS_READ_FILE = 1 << 2
FS_READ_DIR = 1 << 3
FS_REMOVE_DIR = 1 << 4
FS_REMOVE_FILE = 1 << 5
FS_MAKE_CHAR = 1 << 6
FS_MAKE_DIR = 1 << 7
FS_MAKE_REG = 1 << 8
FS_MAKE_SOCK = 1 << 9
FS_MAKE_FIFO = 1 << 10
FS_MAKE_BLOCK = 1 << 11
FS_MAKE_SYM = 1 << 12
FS_REFER = 1 << 13  # ABI 2
FS_TRUNCATE = 1 << 14  # ABI 3
FS_IOCTL_DEV = 1 << 15  # ABI 5

NET_BIND_TCP = 1 << 0  # ABI 4
NET_CONNECT_TCP = 1 << 1  # ABI 4

SCOPE_ABSTRACT_UNIX_SOCKET = 1 << 0  # ABI 6
SCOPE_SIGNAL = 1 << 1  # ABI 6

_FS_ABI1 = (1 << 13) - 1
# Rights that may be granted on a non-directory (others give EINVAL).
_FILE_RIGHTS = FS_EXECUTE | FS_WRITE_FILE | FS_READ_FILE | FS_TRUNCATE | FS_IOCTL_DEV

RO_RIGHTS = FS_READ_FILE | FS_READ_DIR
RW_RIGHTS = (RO_RIGHTS | FS_WRITE_FILE | FS_MAKE_REG | FS_MAKE_DIR | FS_REMOVE_FILE
             | FS_REMOVE_DIR | FS_TRUNCATE | FS_REFER)


class RulesetAttr(ctypes.Structure):
    _fields_ = [("handled_access_fs", ctypes.c_uint64),
                ("handled_access_net", ctypes.c_uint64),
                ("scoped", ctypes.c_uint64)]


class PathBeneathAttr(ctypes.Structure):
    _pack_ = 1
    _fields_ = [("allowed_access", ctypes.c_uint64), ("parent_fd", ctypes.c_int32)]


class NetPortAttr(ctypes.Structure):
    _fields_ = [("allowed_access", ctypes.c_uint64), ("port", ctypes.c_uint64)]


assert ctypes.sizeof(PathBeneathAttr) == 12 and ctypes.sizeof(RulesetAttr) == 24

_libc_handle: ctypes.CDLL | None = None


def libc() -> ctypes.CDLL:
    """libc with errno capture (already mapped: loading it reads no file)."""
    global _libc_handle
    if _libc_handle is None:
        lib = ctypes.CDLL(None, use_errno=True)
        lib.syscall.restype = ctypes.c_long
        lib.prctl.restype = ctypes.c_int
        lib.prctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong,
                              ctypes.c_ulong, ctypes.c_ulong]
        _libc_handle = lib
    return _libc_handle


def _syscall(nr: int, *args) -> int:
    ctypes.set_errno(0)
    res = libc().syscall(ctypes.c_long(nr), *args)
    if res < 0:
        err = ctypes.get_errno()
        raise OSError(err, f"syscall {nr}: {os.strerror(err)}")
    return res


def abi_version() -> int:
    """Landlock ABI version of the running kernel; 0 if unsupported/disabled."""
    try:
        return _syscall(SYS_landlock_create_ruleset, None, ctypes.c_size_t(0),
                        ctypes.c_uint32(LANDLOCK_CREATE_RULESET_VERSION))
    except OSError:
        return 0


def handled_rights(abi: int) -> tuple[int, int, int]:
    """(fs, net, scoped) masks handled for ``abi``."""
    fs = _FS_ABI1
    if abi >= 2:
        fs |= FS_REFER
    if abi >= 3:
        fs |= FS_TRUNCATE
    if abi >= 5:
        fs |= FS_IOCTL_DEV
    net = NET_BIND_TCP | NET_CONNECT_TCP if abi >= 4 else 0
    scoped = SCOPE_ABSTRACT_UNIX_SOCKET | SCOPE_SIGNAL if abi >= 6 else 0
    return fs, net, scoped


def _attr_size(abi: int) -> int:
    if abi >= 6:
        return 24
    if abi >= 4:
        return 16
    return 8


def _add_path(ruleset_fd: int, path: str, rights: int, handled_fs: int) -> bool:
    """Grant ``rights`` beneath ``path``; returns False if the path is missing."""
    try:
        fd = os.open(path, os.O_PATH | os.O_CLOEXEC)
    except (FileNotFoundError, NotADirectoryError):
        return False
    try:
        rights &= handled_fs
        if not stat.S_ISDIR(os.fstat(fd).st_mode):
            rights &= _FILE_RIGHTS
        if not rights:
            return True
        attr = PathBeneathAttr(allowed_access=rights, parent_fd=fd)
        try:
            _syscall(SYS_landlock_add_rule, ctypes.c_int(ruleset_fd),
                     ctypes.c_int(LANDLOCK_RULE_PATH_BENEATH), ctypes.byref(attr),
                     ctypes.c_uint32(0))
        except OSError as exc:
            raise OSError(exc.errno, f"landlock_add_rule({path!r}): {exc.strerror}") from None
    finally:
        os.close(fd)
    return True


def restrict(readable: Iterable[str], writable: Iterable[str],
             files_rw: Iterable[str] = ("/dev/null",),
             files_ro: Iterable[str] = ("/dev/urandom",)) -> int:
    """Confine the calling thread (and its future children) with Landlock.

    Read-only access beneath each path in ``readable``, read-write beneath each
    path in ``writable``, read+write on the files ``files_rw``, read on
    ``files_ro``; nothing else.  TCP bind/connect are denied (ABI >= 4),
    signals and abstract unix sockets are scoped to the sandbox (ABI >= 6).
    Missing paths are skipped.  Sets PR_SET_NO_NEW_PRIVS.  Returns the ABI
    used; raises OSError if Landlock is unavailable or a step fails.
    """
    abi = abi_version()
    if abi < 1:
        raise OSError(95, "Landlock is not supported or not enabled by this kernel")
    fs, net, scoped = handled_rights(abi)
    attr = RulesetAttr(handled_access_fs=fs, handled_access_net=net, scoped=scoped)
    ruleset_fd = _syscall(SYS_landlock_create_ruleset, ctypes.byref(attr),
                          ctypes.c_size_t(_attr_size(abi)), ctypes.c_uint32(0))
    try:
        for path in readable:
            _add_path(ruleset_fd, path, RO_RIGHTS, fs)
        for path in writable:
            _add_path(ruleset_fd, path, RW_RIGHTS, fs)
        for path in files_rw:
            _add_path(ruleset_fd, path, FS_READ_FILE | FS_WRITE_FILE | FS_TRUNCATE, fs)
        for path in files_ro:
            _add_path(ruleset_fd, path, FS_READ_FILE, fs)
        # No net rule is added: with NET_* handled, every TCP bind/connect is denied.
        if libc().prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
            err = ctypes.get_errno()
            raise OSError(err, f"prctl(PR_SET_NO_NEW_PRIVS): {os.strerror(err)}")
        _syscall(SYS_landlock_restrict_self, ctypes.c_int(ruleset_fd), ctypes.c_uint32(0))
    finally:
        os.close(ruleset_fd)
    return abi
