"""Finding and preparing the cgroup v2 (unified) directory the per-submission groups go in.

Used by :mod:`grader.sandbox.cgroups` when the host has no cgroup v1 ``memory`` and ``pids``
hierarchies (current distributions and Docker hosts are v2 only). In v2 one directory
carries every controller, and a group may only hand ``memory`` and ``pids`` to its
children (``cgroup.subtree_control``) while no process lives in the group itself (the "no
internal processes" rule). So, once, the processes of the worker's own cgroup (a systemd
service with ``Delegate=yes``, or a container's cgroup namespace root) move into a leaf
``grader-leaf`` beside the submissions' groups, and the controllers are enabled for the
children, as container init systems do.

Written against the kernel's documented interface (Documentation/admin-guide/cgroup-v2.rst);
the machine this project is developed on has v1 controllers only, so the tests exercise it
on a directory laid out like cgroupfs.
"""

from __future__ import annotations

import errno
import os

PROC_SELF_CGROUP = "/proc/self/cgroup"
MOUNTINFO = "/proc/self/mountinfo"
LEAF = "grader-leaf"
NEEDED = ("memory", "pids")


def mounts(fstype: str, mountinfo: str | None = None) -> list[tuple[str, str, list[str]]]:
    """(mount point, mount root, super options) of every mount of ``fstype``."""
    try:
        with open(mountinfo or MOUNTINFO) as handle:
            lines = handle.read().splitlines()
    except OSError:
        return []
    found = []
    for line in lines:
        left, _, right = line.partition(" - ")
        fields, rfields = left.split(), right.split()
        if len(fields) >= 5 and rfields and rfields[0] == fstype:
            found.append((fields[4], fields[3], rfields[2].split(",") if len(rfields) > 2 else []))
    return found


def unified_mount(mountinfo: str | None = None) -> tuple[str, str] | None:
    """(mount point, mount root) of the cgroup2 file system, or None."""
    found = mounts("cgroup2", mountinfo)
    return (found[0][0], found[0][1]) if found else None


def own_path(proc_cgroup: str | None = None) -> str | None:
    """This process's cgroup v2 path (the ``0::`` line), or None."""
    try:
        with open(proc_cgroup or PROC_SELF_CGROUP) as handle:
            for line in handle.read().splitlines():
                if line.startswith("0::"):
                    return line[3:] or "/"
    except OSError:
        return None
    return None


def base_dir() -> str:
    """The directory the submissions' groups are created in, with ``memory`` and ``pids``
    enabled for its children; raises OSError with the reason when that is not possible."""
    mount, own = unified_mount(), own_path()
    if mount is None or own is None:
        raise OSError(errno.ENOENT, "no cgroup v2 file system in /proc/self/mountinfo")
    point, root = mount
    if root != "/" and (own == root or own.startswith(root.rstrip("/") + "/")):
        own = own[len(root.rstrip("/")):] or "/"
    if os.path.basename(own.rstrip("/")) == LEAF:  # moved there by an earlier call
        own = os.path.dirname(own.rstrip("/")) or "/"
    base = os.path.join(point, own.lstrip("/"))
    available = _words(os.path.join(base, "cgroup.controllers"))
    missing = [name for name in NEEDED if name not in available]
    if missing:
        raise OSError(errno.ENOENT, f"cgroup v2 group {own} is not given the {'+'.join(missing)} controller(s) "
                                    f"(its cgroup.controllers: {' '.join(sorted(available)) or 'none'}); "
                                    "delegate them (systemd: Delegate=yes)")
    enable_for_children(base)
    return base


def enable_for_children(base: str) -> None:
    control = os.path.join(base, "cgroup.subtree_control")
    if all(name in _words(control) for name in NEEDED):
        return
    try:
        _write(control, " ".join(f"+{name}" for name in NEEDED))
        return
    except OSError as exc:
        if exc.errno != errno.EBUSY:
            raise
    # EBUSY: processes live in ``base`` itself; give them a leaf of their own first.
    leaf = os.path.join(base, LEAF)
    os.makedirs(leaf, exist_ok=True)
    for pid in _words(os.path.join(base, "cgroup.procs")):
        try:
            _write(os.path.join(leaf, "cgroup.procs"), pid)
        except OSError as exc:
            if exc.errno != errno.ESRCH:  # gone meanwhile: fine
                raise
    _write(control, " ".join(f"+{name}" for name in NEEDED))


def _words(path: str) -> list[str]:
    try:
        with open(path) as handle:
            return handle.read().split()
    except OSError:
        return []


def _write(path: str, value: str) -> None:
    from grader.sandbox.cgroups import write_file  # (cgroups imports this module)

    write_file(path, value)
