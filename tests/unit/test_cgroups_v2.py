"""The cgroup layer on a cgroup v2-only host (current distributions, Docker hosts).

This machine's memory and pids controllers are bound to cgroup v1, so v2 cannot be run
here for real: these tests lay out a directory the way cgroupfs v2 presents itself
(``/proc/self/cgroup`` with a ``0::`` line, a ``cgroup2`` mount, ``cgroup.controllers``,
``cgroup.subtree_control``) and check what the code reads and writes there. The v1 path
is exercised for real by tests/integration/test_sandbox_layers.py.
"""

from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest

from grader.sandbox import cgroups, cgroups_v2


@pytest.fixture
def v2_host(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A v2-only host: the process lives in /system.slice/grader-worker.service."""
    mount = tmp_path / "sys-fs-cgroup"
    service = mount / "system.slice" / "grader-worker.service"
    service.mkdir(parents=True)
    (service / "cgroup.controllers").write_text("cpuset cpu io memory hugetlb pids rdma misc\n")
    (service / "cgroup.subtree_control").write_text("")
    (service / "cgroup.procs").write_text("")
    (tmp_path / "cgroup").write_text("0::/system.slice/grader-worker.service\n")
    (tmp_path / "mountinfo").write_text(
        f"25 30 0:22 / /proc rw - proc proc rw\n"
        f"33 25 0:27 / {mount} rw,nosuid,nodev,noexec,relatime shared:9 - cgroup2 cgroup2 rw,nsdelegate\n")
    monkeypatch.setattr(cgroups_v2, "PROC_SELF_CGROUP", str(tmp_path / "cgroup"))
    monkeypatch.setattr(cgroups_v2, "MOUNTINFO", str(tmp_path / "mountinfo"))
    monkeypatch.setattr(cgroups, "_base_dirs", _no_v1)
    # In cgroupfs the control files appear with the directory; here they are made on write.
    monkeypatch.setattr(cgroups, "write_file", lambda path, value: Path(path).write_text(value))
    return service


def _no_v1() -> dict[str, str]:
    raise OSError(errno.ENOENT, "no cgroup v1 'memory' hierarchy in /proc/self/cgroup")


def test_a_v2_host_gets_its_groups_under_the_workers_own_cgroup(v2_host: Path):
    available, detail = cgroups.cgroups_available()
    assert available and detail == f"cgroup v2 memory+pids under {v2_host}"
    assert (v2_host / "cgroup.subtree_control").read_text() == "+memory +pids"


def test_a_submission_group_gets_its_memory_and_pids_limits_in_one_directory(v2_host: Path):
    group = cgroups.ChildCgroup.create("sbx-1-1", memory_bytes=1 << 30, max_pids=64)
    folder = v2_host / "sbx-1-1"
    assert group.version == 2 and set(group.dirs.values()) == {str(folder)}
    assert (folder / "memory.max").read_text() == str(1 << 30)
    assert (folder / "memory.swap.max").read_text() == "0"
    assert (folder / "pids.max").read_text() == "64"


def test_an_oom_kill_is_read_from_memory_events(v2_host: Path):
    group = cgroups.ChildCgroup.create("sbx-1-2", memory_bytes=1 << 30, max_pids=64)
    events = Path(group.dirs["memory"]) / "memory.events"
    events.write_text("low 0\nhigh 0\nmax 3\noom 0\noom_kill 0\n")
    assert not group.oom_killed()
    events.write_text("low 0\nhigh 0\nmax 9\noom 1\noom_kill 1\n")
    assert group.oom_killed()
    (Path(group.dirs["memory"]) / "memory.peak").write_text("123456\n")
    assert group.memory_peak() == 123456


def test_controllers_not_delegated_to_the_worker_are_named(v2_host: Path):
    (v2_host / "cgroup.controllers").write_text("cpu io\n")
    available, detail = cgroups.cgroups_available()
    assert not available
    assert "not given the memory+pids controller(s)" in detail and "Delegate=yes" in detail


def test_the_processes_of_a_busy_cgroup_move_into_a_leaf_first(v2_host: Path, monkeypatch: pytest.MonkeyPatch):
    """The kernel refuses to enable controllers for children while processes live in the
    group itself (EBUSY): they move to grader-leaf, then the controllers are enabled."""
    (v2_host / "cgroup.procs").write_text("101\n102\n")
    real_write, moved = cgroups_v2._write, []

    def kernel_like_write(path: str, value: str) -> None:
        if path.endswith("cgroup.subtree_control") and len(moved) < 2:
            raise OSError(errno.EBUSY, "Device or resource busy")
        if path.endswith(f"{cgroups_v2.LEAF}{os.sep}cgroup.procs"):
            moved.append(value)
            return
        real_write(path, value)

    monkeypatch.setattr(cgroups_v2, "_write", kernel_like_write)
    assert cgroups_v2.base_dir() == str(v2_host)
    assert moved == ["101", "102"] and (v2_host / cgroups_v2.LEAF).is_dir()
    assert (v2_host / "cgroup.subtree_control").read_text() == "+memory +pids"


def test_a_process_already_in_the_leaf_uses_the_group_above_it(v2_host: Path, tmp_path: Path):
    (v2_host / cgroups_v2.LEAF).mkdir()
    (tmp_path / "cgroup").write_text(f"0::/system.slice/grader-worker.service/{cgroups_v2.LEAF}\n")
    assert cgroups_v2.base_dir() == str(v2_host)


def test_a_host_with_neither_version_says_why(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    (tmp_path / "cgroup").write_text("")
    (tmp_path / "mountinfo").write_text("")
    monkeypatch.setattr(cgroups_v2, "PROC_SELF_CGROUP", str(tmp_path / "cgroup"))
    monkeypatch.setattr(cgroups_v2, "MOUNTINFO", str(tmp_path / "mountinfo"))
    monkeypatch.setattr(cgroups, "_base_dirs", _no_v1)
    available, detail = cgroups.cgroups_available()
    assert not available and "cgroup v1" in detail and "no cgroup v2 file system" in detail
