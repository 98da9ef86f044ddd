"""cgroup_skb on a temporary cgroup v2 directory: a child process placed in it has its UDP egress dropped."""
from __future__ import annotations

import ctypes
import errno
import os
import socket
import subprocess
import sys
import textwrap

import pytest

from pyebpf.errors import LoaderError
from pyebpf.isa.builder import R0, R1, R2, R10, Builder

pytestmark = pytest.mark.kernel

CHILD = textwrap.dedent("""
    import os, socket, sys
    with open(os.path.join(sys.argv[1], "cgroup.procs"), "w") as f:
        f.write(str(os.getpid()))
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    refused = 0
    for i in range(int(sys.argv[3])):
        try:
            s.sendto(b"cg%d" % i, ("127.0.0.1", int(sys.argv[2])))
        except PermissionError:
            refused += 1
    print(refused)
""")


def count_and_verdict(verdict: int):
    b = Builder("cgroup_skb")
    b.map("counts", "array", key=ctypes.c_uint32, value=ctypes.c_uint64, max_entries=1)
    b.store(R10 - 4, 0, "u32")
    b.ld_map(R1, "counts").mov(R2, R10).add(R2, -4).call("map_lookup_elem")
    with b.if_(R0 != 0):
        b.mov(R1, 1).atomic_add(R0 + 0, R1)
    b.ret(verdict)
    return b.build()


def run_child(cgroup: str, port: int, count: int) -> int:
    out = subprocess.run([sys.executable, "-c", CHILD, cgroup, str(port), str(count)], capture_output=True,
                         text=True, timeout=60, check=True)
    return int(out.stdout)


def recv_count(rx: socket.socket) -> int:
    rx.settimeout(0.2)
    n = 0
    while True:
        try:
            rx.recv(100)
            n += 1
        except socket.timeout:
            return n


def egress_progs(path: str) -> list[int]:
    """Ids of the programs on the cgroup's inet egress hook, as BPF_PROG_QUERY gives them (not bpftool: bpftool
    7.1's query carries prog_attach_flags, which kernels before 6.0 refuse, so it lists nothing on 5.10)."""
    from pyebpf.abi.prog_types import AttachType
    from pyebpf.loader.syscall import prog_query

    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        return prog_query(fd, AttachType.CGROUP_INET_EGRESS)[0]
    finally:
        os.close(fd)


@pytest.mark.parametrize("use_link", [True, False], ids=["link", "prog_attach"])
def test_cgroup_skb_egress_drops_child_traffic(use_link):
    from pyebpf.loader import load
    from pyebpf.loader.attach import TemporaryCgroup, attach_cgroup, prog_id

    with TemporaryCgroup() as cg, socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as rx, \
            load(count_and_verdict(0)) as prog:
        rx.bind(("127.0.0.1", 0))
        port = rx.getsockname()[1]
        with attach_cgroup(prog, cg.path, "egress", use_link=use_link) as att:
            assert (att.link_fd is not None) == use_link
            assert egress_progs(cg.path) == [prog_id(prog.fd)]
            assert run_child(cg.path, port, 5) == 5  # every sendto refused with EPERM
            assert recv_count(rx) == 0
            assert prog.maps["counts"][0] == 5
        assert egress_progs(cg.path) == []
        assert run_child(cg.path, port, 3) == 0
        assert recv_count(rx) == 3
        assert prog.maps["counts"][0] == 5


def test_cgroup_ingress_count_only_and_bad_inputs():
    from pyebpf.loader import load
    from pyebpf.loader.attach import TemporaryCgroup, attach_cgroup

    with TemporaryCgroup() as cg, socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as rx, \
            load(count_and_verdict(1)) as prog:
        rx.bind(("127.0.0.1", 0))
        before = set(os.listdir("/proc/self/fd"))
        with pytest.raises(LoaderError) as info:
            attach_cgroup(prog, cg.path + "/missing", "egress")
        assert info.value.errno == errno.ENOENT
        with pytest.raises(LoaderError):
            attach_cgroup(prog, cg.path, "no_such_hook")
        with pytest.raises(LoaderError):  # a cgroup_skb program cannot go on the sock_create hook
            attach_cgroup(prog, cg.path, "sock_create")
        assert set(os.listdir("/proc/self/fd")) == before
        with attach_cgroup(prog, cg.path, "egress"):
            assert run_child(cg.path, rx.getsockname()[1], 4) == 0  # verdict 1 lets packets through
            assert recv_count(rx) == 4
            assert prog.maps["counts"][0] == 4


def test_legacy_cgroup_attach_released_at_process_exit(tmp_path):
    """BPF_PROG_ATTACH outlives the process's fds; the exit hook must detach it."""
    from pyebpf.loader.attach import TemporaryCgroup

    with TemporaryCgroup() as cg:
        script = tmp_path / "child.py"
        script.write_text(textwrap.dedent(f"""
            from pyebpf.isa.builder import Builder
            from pyebpf.loader import load
            from pyebpf.loader.attach import attach_cgroup
            b = Builder("cgroup_skb"); b.ret(1); p = load(b.build())
            attach_cgroup(p, {cg.path!r}, "egress", use_link=False)
            import os
            from pyebpf.abi.prog_types import AttachType
            from pyebpf.loader.syscall import prog_query
            fd = os.open({cg.path!r}, os.O_RDONLY | os.O_DIRECTORY)
            print(len(prog_query(fd, AttachType.CGROUP_INET_EGRESS)[0]))
        """))
        out = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=60)
        assert out.stdout.strip() == "1", out.stderr
        assert egress_progs(cg.path) == []
