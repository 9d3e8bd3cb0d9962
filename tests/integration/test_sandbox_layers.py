"""Each test forks a child, confines it with every layer, attacks, and asserts.

The child reports through a pipe as JSON and always leaves with os._exit; the
parent enforces a wall timeout and SIGKILLs a stuck child.  Torch is imported
and warmed up (autograd + optim) before any fork, as the zygote does.
"""

from __future__ import annotations

import json
import os
import select
import signal
import socket
import subprocess
import sys
import time
import traceback
from pathlib import Path

import pytest
import torch

from grader.sandbox import cgroups, layers
from grader.sandbox.cgroups import ChildCgroup
from grader.sandbox.layers import LAYER_NAMES, Confinement, Limits

torch.set_num_threads(1)
layers.preload()


def _warm_up() -> None:
    w = torch.zeros(3, requires_grad=True)
    opt = torch.optim.SGD([w], lr=0.1)
    (w * torch.ones(3)).sum().backward()
    opt.step()


_warm_up()

ALL_LAYERS = frozenset(LAYER_NAMES)
pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux") or os.geteuid() != 0,
                                reason="the sandbox layers need Linux and root (cgroups)")


@pytest.fixture
def scratch(tmp_path: Path) -> Path:
    path = tmp_path / "scratch"
    path.mkdir()
    return path


def _confinement(scratch: Path) -> Confinement:
    s = str(scratch)
    env = {"HOME": s, "TMPDIR": s, "MPLBACKEND": "Agg", "MPLCONFIGDIR": s,
           "OMP_NUM_THREADS": "1", "PATH": "/usr/bin:/bin"}
    return Confinement(scratch_dir=s, readable_paths=layers.default_readable_paths(),
                       environment=env)


def _cgroup_name(tag: str) -> str:
    return f"test-sandbox-{os.getpid()}-{tag}-{time.monotonic_ns()}"


def run_confined(attack, scratch: Path, limits: Limits = Limits(), timeout: float = 10.0,
                 enabled: frozenset[str] = ALL_LAYERS, cgroup: ChildCgroup | None = None):
    """Fork, confine, run ``attack()`` in the child; return (report, wait status).

    report is {"result": ...} or {"error": type name, "message": ...} or
    {"layer_error": ...}; None if the child died without reporting."""
    own_cgroup = cgroup is None and "cgroup" in enabled
    if own_cgroup:
        cgroup = ChildCgroup.create(_cgroup_name("run"), limits.memory_bytes, limits.max_processes)
    read_fd, write_fd = os.pipe()
    try:
        pid = os.fork()
        if pid == 0:  # child: never return into pytest
            try:
                os.close(read_fd)
                try:
                    layers.confine(limits, _confinement(scratch), cgroup, enabled)
                except layers.LayerError as exc:
                    report = {"layer_error": str(exc)}
                else:
                    try:
                        report = {"result": attack()}
                    except BaseException as exc:  # noqa: BLE001
                        report = {"error": type(exc).__name__, "message": str(exc),
                                  "trace": traceback.format_exc()}
                os.write(write_fd, json.dumps(report).encode())
            finally:
                os._exit(0)
        os.close(write_fd)
        write_fd = -1
        # Wait for the child itself, not for EOF: its own children (fork bomb)
        # inherit the write end and keep the pipe open.
        data, eof, status, deadline = b"", False, None, time.monotonic() + timeout
        while status is None:
            if not eof and select.select([read_fd], [], [], 0.01)[0]:
                chunk = os.read(read_fd, 1 << 16)
                data, eof = data + chunk, not chunk
                continue
            if eof:
                time.sleep(0.005)
            done, st = os.waitpid(pid, os.WNOHANG)
            if done:
                status = st
            elif time.monotonic() > deadline:
                os.kill(pid, signal.SIGKILL)
                status = os.waitpid(pid, 0)[1]
        while not eof and select.select([read_fd], [], [], 0)[0]:
            chunk = os.read(read_fd, 1 << 16)
            data, eof = data + chunk, not chunk
        return (json.loads(data) if data else None), status
    finally:
        os.close(read_fd)
        if write_fd >= 0:
            os.close(write_fd)
        if own_cgroup:
            cgroup.remove()


def _outcome(fn, *args) -> str:
    try:
        fn(*args)
    except OSError as exc:
        return type(exc).__name__
    return "ok"


def test_confined_child_cannot_open_a_tcp_socket(scratch):
    def attack():
        outcomes = {}
        for fam, typ in [(socket.AF_INET, socket.SOCK_STREAM),
                         (socket.AF_INET6, socket.SOCK_STREAM), (socket.AF_INET, socket.SOCK_DGRAM),
                         (socket.AF_PACKET, socket.SOCK_RAW), (socket.AF_NETLINK, socket.SOCK_RAW),
                         (socket.AF_UNIX, socket.SOCK_STREAM)]:
            outcomes[f"{fam}/{typ}"] = _outcome(socket.socket, fam, typ)
        outcomes["socketpair"] = _outcome(lambda: [s.close() for s in socket.socketpair()])
        return outcomes

    report, _ = run_confined(attack, scratch)
    outcomes = report["result"]
    assert outcomes.pop("socketpair") == "ok"
    assert set(outcomes.values()) == {"PermissionError"}, outcomes


def test_confined_child_cannot_reach_unix_sockets_outside(scratch, tmp_path):
    path = str(tmp_path / "service.sock")
    abstract = f"\0grader-test-{os.getpid()}"
    listeners = []
    for address in (path, abstract):
        srv = socket.socket(socket.AF_UNIX)
        srv.bind(address)
        srv.listen()
        listeners.append(srv)

    def attack():
        out = {}
        for name, address in (("path", path), ("abstract", abstract)):
            def connect(address=address):
                with socket.socket(socket.AF_UNIX) as s:
                    s.connect(address)
            out[name] = _outcome(connect)
        return out

    try:
        report, _ = run_confined(attack, scratch)
        no_seccomp, _ = run_confined(attack, scratch, enabled=ALL_LAYERS - {"seccomp"})
    finally:
        for srv in listeners:
            srv.close()
    assert report["result"] == {"path": "PermissionError", "abstract": "PermissionError"}
    # Without seccomp the new netns (abstract names are per netns) and Landlock scoping
    # still stop abstract sockets; pathname ones would connect (Landlock ABI <= 7).
    assert no_seccomp["result"]["abstract"] != "ok"


def test_without_seccomp_tcp_connect_is_still_denied_by_landlock_and_netns(scratch):
    def attack():
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        return {"connect": _outcome(s.connect, ("127.0.0.1", 9)),
                "bind": _outcome(s.bind, ("127.0.0.1", 8123))}

    report, _ = run_confined(attack, scratch, enabled=ALL_LAYERS - {"seccomp"})
    assert report["result"] == {"connect": "PermissionError", "bind": "PermissionError"}


def test_confined_child_cannot_read_outside_granted_paths(scratch, tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("answer key")
    project = Path(__file__).resolve().parents[2]
    targets = [str(secret), "/root/.bashrc", "/etc/hostname", "/proc/self/status",
               str(project / "pyproject.toml")]
    dirs = [str(tmp_path), str(project / "solutions"), "/root", "/etc"]
    granted = os.path.join(os.path.dirname(os.__file__), "os.py")

    def attack():
        return {"files": {p: _outcome(lambda p=p: open(p).read()) for p in targets},
                "dirs": {d: _outcome(os.listdir, d) for d in dirs},
                "granted": _outcome(lambda: open(granted).read())}

    report, _ = run_confined(attack, scratch)
    result = report["result"]
    assert result["granted"] == "ok"
    for path, outcome in {**result["files"], **result["dirs"]}.items():
        assert outcome in ("PermissionError", "FileNotFoundError"), (path, outcome)
    assert result["files"][str(secret)] == "PermissionError"
    assert result["files"]["/root/.bashrc"] == "PermissionError"


def test_confined_child_cannot_write_outside_scratch(scratch, tmp_path):
    targets = [str(tmp_path / "escaped.txt"), "/tmp/escaped-from-sandbox.txt",
               os.path.join(sys.prefix, "escaped.txt")]

    def attack():
        out = {p: _outcome(lambda p=p: open(p, "a").write("x")) for p in targets}
        out["mkdir"] = _outcome(os.mkdir, str(tmp_path / "newdir"))
        out["unlink"] = _outcome(os.unlink, str(tmp_path / "scratch"))
        return out

    report, _ = run_confined(attack, scratch)
    assert set(report["result"].values()) == {"PermissionError"}, report["result"]
    assert not (tmp_path / "escaped.txt").exists() and not (tmp_path / "newdir").exists()


def test_confined_child_can_write_in_scratch(scratch):
    def attack():
        sub = os.path.join(str(scratch), "a", "b")
        os.makedirs(sub)
        with open(os.path.join(sub, "out.txt"), "w") as fh:
            fh.write("hello")
        os.rename(os.path.join(sub, "out.txt"), os.path.join(str(scratch), "a", "moved.txt"))
        with open("/dev/null", "w") as fh:
            fh.write("discarded")
        torch.save(torch.arange(3), os.path.join(str(scratch), "t.pt"))
        return [len(open("/dev/urandom", "rb").read(8)),
                torch.load(os.path.join(str(scratch), "t.pt")).tolist()]

    report, _ = run_confined(attack, scratch)
    assert report == {"result": [8, [0, 1, 2]]}, report
    assert (scratch / "a" / "moved.txt").read_text() == "hello"


def test_confined_child_cannot_signal_its_parent(scratch):
    received = []
    previous = signal.signal(signal.SIGTERM, lambda *_: received.append(True))
    bystander = subprocess.Popen(["sleep", "30"])
    try:
        def attack():
            # kill(-1, ...) is left out on purpose: it reports success even when
            # every target is refused, and a regression would hit the whole machine.
            return {"parent": _outcome(os.kill, os.getppid(), signal.SIGTERM),
                    "bystander": _outcome(os.kill, bystander.pid, signal.SIGKILL),
                    "init": _outcome(os.kill, 1, 0),
                    "self": _outcome(os.kill, os.getpid(), 0)}

        report, _ = run_confined(attack, scratch)
        time.sleep(0.05)
        assert bystander.poll() is None
    finally:
        signal.signal(signal.SIGTERM, previous)
        bystander.kill()
        bystander.wait()
    assert report["result"] == {"parent": "PermissionError", "bystander": "PermissionError",
                                "init": "PermissionError", "self": "ok"}
    assert received == []


def test_fork_bomb_is_capped_by_pids_cgroup(scratch):
    limits = Limits(max_processes=8)
    cgroup = ChildCgroup.create(_cgroup_name("bomb"), limits.memory_bytes, limits.max_processes)

    def attack():
        forked, failure = 0, None
        for _ in range(100):
            try:
                pid = os.fork()
            except OSError as exc:
                failure = type(exc).__name__
                break
            if pid == 0:
                time.sleep(30)
                os._exit(0)
            forked += 1
        return {"forked": forked, "failure": failure}

    try:
        report, _ = run_confined(attack, scratch, limits=limits, cgroup=cgroup)
        assert report["result"]["failure"] == "BlockingIOError"
        assert 1 <= report["result"]["forked"] <= limits.max_processes
        assert len(cgroup.pids()) == report["result"]["forked"]  # orphans are still tracked
    finally:
        cgroup.remove()
    assert not any(os.path.exists(d) for d in cgroup.dirs.values())


def test_address_space_limit_turns_huge_allocation_into_clean_error(scratch):
    def attack():
        try:
            torch.empty(20 * 2**30 // 4)
        except RuntimeError as exc:
            return {"error": str(exc)[:200], "after": float(torch.ones(1000).sum())}
        return {"error": None}

    report, _ = run_confined(attack, scratch, limits=Limits(memory_bytes=512 << 20))
    assert report["result"]["error"], report
    assert report["result"]["after"] == 1000.0


def test_memory_cgroup_reports_oom_kill(scratch):
    limits = Limits(memory_bytes=64 << 20)
    cgroup = ChildCgroup.create(_cgroup_name("oom"), limits.memory_bytes, limits.max_processes)

    def attack():
        chunks = [bytearray(16 << 20) for _ in range(16)]  # touches 256 MiB
        return len(chunks)

    try:  # without rlimits only the cgroup limit can stop it
        report, status = run_confined(attack, scratch, limits=limits, cgroup=cgroup,
                                      enabled=ALL_LAYERS - {"rlimits"})
        assert report is None and os.WIFSIGNALED(status)
        assert os.WTERMSIG(status) == signal.SIGKILL
        assert cgroup.oom_killed()
    finally:
        cgroup.remove()


def test_child_runs_torch_autograd_after_confinement(scratch):
    def attack():
        import numpy
        import numpy.polynomial  # noqa: F401 - not yet imported: needs file reads
        import sqlite3  # noqa: F401 - C extension + shared library from /usr/lib
        torch.manual_seed(0)
        x, y = torch.randn(32, 3), torch.randn(32, 1)
        model = torch.nn.Linear(3, 1)
        opt = torch.optim.SGD(model.parameters(), lr=0.1)
        losses = []
        for _ in range(5):
            opt.zero_grad()
            loss = torch.nn.functional.mse_loss(model(x), y)
            loss.backward()
            opt.step()
            losses.append(loss.item())
        return {"losses": losses, "numpy": float(numpy.asarray(x).sum()),
                "grad": model.weight.grad.abs().sum().item()}

    report, _ = run_confined(attack, scratch)
    assert "result" in report, report
    losses = report["result"]["losses"]
    assert losses[-1] < losses[0] and report["result"]["grad"] > 0


def test_confined_child_sees_only_the_given_environment(scratch):
    report, _ = run_confined(lambda: {"env": dict(os.environ), "uid": os.getuid(),
                                      "host": socket.gethostname()}, scratch)
    result = report["result"]
    assert result["env"] == _confinement(scratch).environment
    assert result["uid"] == 65534 and result["host"] == "sandbox"


def test_namespaces_layer_drops_every_capability(scratch):
    def attack():  # Landlock is off here so /proc/self/status stays readable
        with open("/proc/self/status") as fh:
            fields = dict(line.split(":\t", 1) for line in fh.read().splitlines() if ":\t" in line)
        return {k: fields[k].strip() for k in ("CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb",
                                               "NoNewPrivs", "Uid")}

    report, _ = run_confined(attack, scratch, enabled=frozenset({"namespaces"}))
    result = report["result"]
    assert {result[k] for k in ("CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb")} == {"0" * 16}
    assert result["NoNewPrivs"] == "1" and result["Uid"].split()[0] == "65534"


def test_confined_child_cannot_execute_programs(scratch):
    def attack():
        out = {"system": os.system("echo pwned > /dev/null")}
        for name, fn in {"subprocess": lambda: subprocess.run(["/bin/true"]),
                         "execv": lambda: os.execv(sys.executable, [sys.executable, "-c", "1"]),
                         "fork": lambda: os.fork() == 0 and os._exit(0)}.items():
            out[name] = _outcome(fn)
        return out

    report, _ = run_confined(attack, scratch)
    result = report["result"]
    assert result["system"] != 0
    assert result["subprocess"] == "PermissionError" and result["execv"] == "PermissionError"
    assert result["fork"] == "ok"  # plain fork is still allowed


def test_seccomp_alone_refuses_exec_namespaces_ptrace_and_clone3(scratch):
    import ctypes
    libc = ctypes.CDLL(None, use_errno=True)
    libc.syscall.restype = ctypes.c_long

    def errno_of(*args) -> int:
        ctypes.set_errno(0)
        res = libc.syscall(*[ctypes.c_long(a) for a in args])
        return ctypes.get_errno() if res < 0 else 0

    def attack():  # no Landlock, no namespaces: only the seccomp filter stands
        return {"execve": _outcome(os.execv, "/bin/true", ["/bin/true"]),
                "unshare": errno_of(272, 0x10000000),        # unshare(CLONE_NEWUSER)
                "clone_newnet": errno_of(56, 0x40000000 | signal.SIGCHLD, 0, 0, 0, 0),
                "ptrace": errno_of(101, 0, 0, 0, 0),          # PTRACE_TRACEME
                "clone3": errno_of(435, 0, 0),
                "setuid": errno_of(105, 1000),
                "inet": _outcome(socket.socket, socket.AF_INET)}

    report, _ = run_confined(attack, scratch, enabled=frozenset({"seccomp"}))
    assert report["result"] == {"execve": "PermissionError", "unshare": 1, "clone_newnet": 1,
                                "ptrace": 1, "clone3": 38, "setuid": 1,
                                "inet": "PermissionError"}


def test_cpu_limit_delivers_sigxcpu(scratch):
    def attack():
        while True:
            pass

    start = time.monotonic()
    report, status = run_confined(attack, scratch, limits=Limits(cpu_seconds=1), timeout=8)
    assert time.monotonic() - start < 5, "killed by the test's wall timeout, not by RLIMIT_CPU"
    assert report is None and os.WIFSIGNALED(status)
    assert os.WTERMSIG(status) in (signal.SIGXCPU, signal.SIGKILL)


def test_probe_reports_every_layer_available_on_this_machine():
    start = time.perf_counter()
    statuses = layers.probe_layers()
    elapsed = time.perf_counter() - start
    assert [s.name for s in statuses] == list(LAYER_NAMES)
    assert all(s.available for s in statuses), statuses
    assert "Landlock ABI" in statuses[3].detail
    assert elapsed < 0.5, elapsed  # budget is 200 ms; leave room for a loaded CI box


def test_probe_leaves_no_cgroup_behind():
    bases = cgroups._base_dirs()  # pylint: disable=protected-access
    layers.probe_layers()
    leftovers = [e for base in bases.values() for e in os.listdir(base)
                 if e.startswith(f"probe-{os.getpid()}-")]
    assert leftovers == []
