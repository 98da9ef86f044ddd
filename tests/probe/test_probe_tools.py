"""bcc libbpf-tools rewritten as Python probes (examples/probes): killsnoop, runqlat, biolatency, profile
(profiler.py) and tcplife, each triggered for real and its output checked against what this process did; and in
the VM where the tool's logic can be driven by hand."""
from __future__ import annotations

import errno
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from pyebpf.probe import load_all
from pyebpf.vm.env import Environment

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "examples" / "probes"))
import biolatency  # noqa: E402
import killsnoop  # noqa: E402
import profiler  # noqa: E402
import runqlat  # noqa: E402
import tcplife  # noqa: E402

ENGINES = ["interp", "compiled"]


# ---- killsnoop ------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("engine", ENGINES)
def test_killsnoop_vm(engine):
    killsnoop.pending.clear()
    killsnoop.events.read()
    env = Environment(pid=77, tgid=77, comm=b"sender")
    killsnoop.kill_entry.run(pid=1234, sig=15, engine=engine, env=env)
    killsnoop.kill_exit.run(ret=-errno.ESRCH, engine=engine, env=env)
    killsnoop.kill_exit.run(ret=0, engine=engine, env=env)  # no pending entry: no event
    (e,) = killsnoop.events.read()
    assert (e.pid, e.tpid, e.sig, e.ret, e.comm.rstrip(b"\0")) == (77, 1234, 15, -errno.ESRCH, b"sender")


def _free_pid() -> int:
    pid = 4_000_000
    while os.path.exists(f"/proc/{pid}"):
        pid -= 1
    return pid


@pytest.mark.kernel
def test_killsnoop_kernel():
    killsnoop.events.read()
    child = subprocess.Popen(["sleep", "30"])
    gone = _free_pid()
    loaded = load_all([killsnoop.kill_entry, killsnoop.kill_exit])
    try:
        os.kill(child.pid, signal.SIGTERM)
        try:
            os.kill(gone, 0)
        except ProcessLookupError:
            pass
        got = []
        end = time.monotonic() + 5
        while time.monotonic() < end and len([e for e in got if e.pid == os.getpid()]) < 2:
            got += killsnoop.events.read(timeout=0.5)
    finally:
        for lp in loaded:
            lp.close()
        child.wait()
    mine = [(e.tpid, e.sig, e.ret) for e in got if e.pid == os.getpid()]
    assert mine == [(child.pid, signal.SIGTERM, 0), (gone, 0, -errno.ESRCH)]
    assert killsnoop.lines(got)


# ---- runqlat --------------------------------------------------------------------------------------------------------

def _btf():
    from pyebpf.btf import kernel_btf_or_none

    btf = kernel_btf_or_none()
    if btf is None:
        pytest.skip("no kernel BTF: tp_btf tools need /sys/kernel/btf/vmlinux")
    return btf


def _runqlat_btf():
    """runqlat reads task_struct.__state (renamed from `state` in Linux 5.14; our probes have no CO-RE field-exists
    choice between the two yet)."""
    from pyebpf.errors import BtfError
    from pyebpf.testing.plugin import skip_missing_feature

    btf = _btf()
    try:
        btf.struct("task_struct").member("__state")
    except (BtfError, KeyError):
        skip_missing_feature("task_struct has no __state (Linux 5.14+), which examples/probes/runqlat.py reads")
    return btf


@pytest.mark.parametrize("engine", ENGINES)
def test_runqlat_vm(engine):
    btf = _runqlat_btf()
    task_t = btf.struct("task_struct")
    task = bytearray(task_t.size)
    for name in ("pid", "tgid"):
        off = task_t.member(name).offset
        task[off:off + 4] = (4242).to_bytes(4, "little")
    addr = 0xFFFF888000500000
    runqlat.start.clear()
    runqlat.lat_us.clear()
    now = [1_000_000]
    env = Environment(kernel_memory={addr: bytes(task)}, time_ns=lambda: now[0])
    runqlat.wakeup.run(p=addr, engine=engine, env=env)
    assert dict(runqlat.start.items()) == {4242: 1_000_000}
    now[0] += 3_000_000
    runqlat.switch.run(prev=0, next=addr, engine=engine, env=env)  # prev 0: its __state reads as 0 (RUNNING)
    assert runqlat.lat_us.buckets() == {11: 1}  # 3000 us waited: [2048, 4096)
    assert 4242 not in runqlat.start


@pytest.mark.kernel
def test_runqlat_kernel():
    _runqlat_btf()
    child = subprocess.Popen([sys.executable, "-c", "import time\nfor _ in range(200): time.sleep(0.002)"])
    runqlat.lat_us.clear()
    runqlat.TARGET_TGID = child.pid
    for p in runqlat.PROBES:
        p._compiled = None  # TARGET_TGID is folded in at compile time
    try:
        loaded = load_all(runqlat.PROBES)
        try:
            child.wait(timeout=60)
        finally:
            for lp in loaded:
                lp.close()
    finally:
        runqlat.TARGET_TGID = 0
        for p in runqlat.PROBES:
            p._compiled = None
    total = sum(runqlat.lat_us.buckets().values())
    assert total >= 150  # each of the 200 sleeps ends with a wakeup and a switch back in (some before attach)
    assert "|" in str(runqlat.lat_us)


# ---- biolatency -----------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("engine", ENGINES)
def test_biolatency_vm(engine):
    _btf()
    biolatency.start.clear()
    biolatency.lat_us.clear()
    now = [10**9]
    env = Environment(time_ns=lambda: now[0])
    biolatency.issue.run(rq=0xFFFF888000600000, engine=engine, env=env)
    now[0] += 100_000
    biolatency.complete.run(rq=0xFFFF888000600000, error=0, nr_bytes=4096, engine=engine, env=env)
    biolatency.complete.run(rq=0xFFFF888000700000, engine=engine, env=env)  # never issued: not counted
    assert biolatency.lat_us.buckets() == {6: 1}  # 100 us: [64, 128)


def _direct_writes(path: Path, n: int) -> None:
    """n 64 KiB O_DIRECT|O_DSYNC writes: each goes to the disk as block requests."""
    import mmap

    buf = mmap.mmap(-1, 65536)
    buf.write(b"x" * 65536)
    fd = os.open(str(path), os.O_CREAT | os.O_WRONLY | os.O_DIRECT | os.O_DSYNC, 0o600)
    try:
        for i in range(n):
            os.pwritev(fd, [buf], i * 65536)
    finally:
        os.close(fd)


def _on_block_device(tmp_path: Path) -> Path | None:
    """A writable directory whose filesystem sits on a block device (tmpfs, 9p and overlay ones do not issue block
    requests), or None."""
    for d in (Path("/var/tmp"), tmp_path, Path("/")):
        try:
            st = os.stat(d)
        except OSError:
            continue
        if os.access(d, os.W_OK) and Path(f"/sys/dev/block/{os.major(st.st_dev)}:{os.minor(st.st_dev)}").exists():
            return d
    return None


@pytest.mark.kernel
def test_biolatency_kernel(tmp_path):
    _btf()
    target = _on_block_device(tmp_path)
    if target is None:
        pytest.skip("no writable filesystem on a block device here: block tracepoints cannot be triggered")
    victim = target / f"pyebpf-biolatency-{os.getpid()}"
    biolatency.lat_us.clear()
    try:
        try:
            _direct_writes(victim, 1)
        except OSError as e:
            pytest.skip(f"no O_DIRECT block I/O here ({e}): block tracepoints cannot be triggered")
        loaded = load_all(biolatency.PROBES)
        try:
            _direct_writes(victim, 20)
        finally:
            for lp in loaded:
                lp.close()
    finally:
        victim.unlink(missing_ok=True)
    assert sum(biolatency.lat_us.buckets().values()) >= 20


# ---- profile --------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("engine", ENGINES)
def test_profile_vm(engine):
    profiler.counts.clear()
    env = Environment(pid=55, tgid=55, comm=b"spin", kernel_stack=[0xFFFFFFFF81000010], user_stack=[0x401000])
    for _ in range(3):
        profiler.sample.run(engine=engine, env=env)
    ((key, n),) = profiler.counts.items()
    assert (key.pid, key.comm.rstrip(b"\0"), n) == (55, b"spin", 3) and key.kstack >= 0 and key.ustack >= 0
    assert profiler.stacks.stack(key.kstack) == [0xFFFFFFFF81000010]


@pytest.mark.kernel
def test_profile_kernel():
    spin = "import time\nend = time.time() + 3\nwhile time.time() < end: pass"
    child = subprocess.Popen([sys.executable, "-c", spin])
    profiler.counts.clear()
    profiler.TARGET_TGID = child.pid
    profiler.sample._compiled = None
    try:
        with profiler.sample.load():
            time.sleep(1.5)
        folded = profiler.folded()  # while the child lives: its user stacks are symbolised from /proc/PID/maps
    finally:
        profiler.TARGET_TGID = 0
        profiler.sample._compiled = None
        child.kill()
        child.wait()
    items = profiler.counts.items()
    assert items and all(k.pid == child.pid for k, _ in items)
    assert sum(n for _, n in items) >= 10  # 99 Hz for 1.5 s, on a shared CPU
    assert any("Py" in line for line in folded), folded[:5]  # the interpreter's frames, from its ELF symbols


# ---- tcplife --------------------------------------------------------------------------------------------------------

@pytest.mark.kernel
def test_tcplife_kernel():
    _btf()
    tcplife.events.read()
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(1)
    port = srv.getsockname()[1]

    def serve():
        conn, _ = srv.accept()
        got = 0
        while got < 5000:
            got += len(conn.recv(65536))
        conn.sendall(b"r" * 300)
        conn.close()

    with tcplife.state_change.load():
        t = threading.Thread(target=serve)
        t.start()
        cli = socket.create_connection(("127.0.0.1", port))
        cport = cli.getsockname()[1]
        cli.sendall(b"s" * 5000)
        got = b""
        while len(got) < 300:
            got += cli.recv(65536)
        time.sleep(0.05)
        cli.close()
        t.join()
        srv.close()
        events = []
        end = time.monotonic() + 5
        while time.monotonic() < end and len([e for e in events if port in (e.sport, e.dport)]) < 2:
            events += tcplife.events.read(timeout=0.5)
    ours = {(e.sport, e.dport): e for e in events if port in (e.sport, e.dport)}
    client, server = ours[(cport, port)], ours[(port, cport)]
    # the kernel's tcp_sock counts sequence space (as libbpf-tools' tcplife reports it): the client closes last,
    # so at its TCP_CLOSE its SYN and FIN are acked and the server's FIN received; the server (active close)
    # reaches TCP_CLOSE entering TIME_WAIT, where the client's FIN and the ack of its own may not be counted yet
    assert (client.tx_b, client.rx_b) == (5000 + 2, 300 + 1)
    assert server.tx_b - 300 in (1, 2) and server.rx_b - 5000 in (0, 1)
    assert client.pid == os.getpid() and bytes(client.saddr) == bytes([127, 0, 0, 1]) and client.family == 2
    assert client.span_us > 0 and tcplife.lines([client])
