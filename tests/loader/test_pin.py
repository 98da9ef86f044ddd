"""Pinning in bpffs and reopening pinned programs, maps and links."""
from __future__ import annotations

import ctypes
import os
import uuid

import pytest

from pyebpf.abi.maps import MapSpec
from pyebpf.errors import LoaderError
from pyebpf.isa.builder import R0, R1, R2, R10, Builder
from pyebpf.loader import KernelMap, KernelProgram, create_map, ensure_bpffs, load, open_pinned, unpin
from pyebpf.loader.fdguard import open_fd_count
from pyebpf.loader.pin import is_bpffs

pytestmark = pytest.mark.kernel


@pytest.fixture
def pin_dir():
    root = ensure_bpffs()
    path = os.path.join(root, f"pyebpf_test_{uuid.uuid4().hex[:8]}")
    yield path
    if os.path.isdir(path):
        for name in os.listdir(path):
            os.unlink(os.path.join(path, name))
        os.rmdir(path)


def _counter():
    b = Builder("xdp", name="pinned_ctr")
    counts = b.map("counts", "array", ctypes.c_uint32, ctypes.c_uint64, 1)
    b.store(R10 - 4, 0, "u32").mov(R2, R10).add(R2, -4).ld_map(R1, counts).call("map_lookup_elem")
    with b.if_(R0 != 0):
        b.mov(R1, 1).atomic_add(R0 + 0, R1)
    return b.ret(2).build()


def test_bpffs_is_mounted():
    assert is_bpffs(ensure_bpffs())
    assert not is_bpffs("/proc")


def test_pin_and_reopen_program_and_map(pin_dir):
    prog_path, map_path = f"{pin_dir}/prog", f"{pin_dir}/counts"
    with load(_counter()) as p:
        p.pin(prog_path)  # the directory is created inside bpffs
        p.maps["counts"].pin(map_path)
        p.test_run(b"\0" * 64, repeat=3)
        prog_id = p.info().id
    # both live on through their pins after every fd was closed
    with open_pinned(map_path) as m:
        assert isinstance(m, KernelMap) and m.name == "counts" and m[0] == 3
    with open_pinned(prog_path) as again:
        assert isinstance(again, KernelProgram) and again.info().id == prog_id and again.name == "pinned_ctr"
        again.test_run(b"\0" * 64, repeat=2)
        assert again.maps["counts"][0] == 5
    unpin(prog_path)
    unpin(map_path)
    with pytest.raises(LoaderError) as e:
        open_pinned(prog_path)
    assert e.value.errno_name == "ENOENT"


def test_pin_outside_bpffs_is_refused(tmp_path):
    before = open_fd_count()
    with create_map(MapSpec.of("x", "array", 4, 4, 1)) as m:
        with pytest.raises(LoaderError, match="not on a bpf filesystem"):
            m.pin(str(tmp_path / "m"))
    assert open_fd_count() == before


def test_pin_twice_is_eexist(pin_dir):
    with create_map(MapSpec.of("x", "array", 4, 4, 1)) as m:
        m.pin(f"{pin_dir}/m")
        with pytest.raises(LoaderError) as e:
            m.pin(f"{pin_dir}/m")
        assert e.value.errno_name == "EEXIST"


def test_open_pinned_non_bpf_file_fails_without_leak(tmp_path):
    f = tmp_path / "plain"
    f.write_text("x")
    before = open_fd_count()
    with pytest.raises(LoaderError):
        open_pinned(str(f))
    assert open_fd_count() == before


def _cgroup2_root() -> str | None:
    with open("/proc/mounts") as f:
        for line in f:
            parts = line.split()
            if parts[2] == "cgroup2":
                return parts[1]
    return None


def test_link_create_info_pin_and_detach(pin_dir):
    """BPF_LINK_CREATE on a fresh cgroup, Link info, pinning the link and reopening it, BPF_LINK_DETACH."""
    from pyebpf.abi.prog_types import AttachType
    from pyebpf.abi.uapi import BpfLinkType
    from pyebpf.loader import syscall as sc
    from pyebpf.loader.link import Link

    root = _cgroup2_root()
    if root is None:
        pytest.skip("no cgroup2 hierarchy mounted")
    cg = os.path.join(root, f"pyebpf_link_{uuid.uuid4().hex[:8]}")
    os.mkdir(cg)
    cg_fd = os.open(cg, os.O_RDONLY | os.O_DIRECTORY)
    path = f"{pin_dir}/link"
    try:
        with load(Builder("cgroup_skb", name="allow").ret(1).build(),
                  expected_attach_type=AttachType.CGROUP_INET_INGRESS) as p:
            with Link(sc.link_create(p.fd, cg_fd, AttachType.CGROUP_INET_INGRESS)) as link:
                info = link.info()
                assert info.type == BpfLinkType.CGROUP and info.prog_id == p.info().id
                assert link.kind == "cgroup" and link.is_bpf_link
                link.pin(path)
                with open_pinned(path) as again:
                    assert isinstance(again, Link) and again.info().id == info.id
                assert sc.prog_query(cg_fd, AttachType.CGROUP_INET_INGRESS)[0] == [p.info().id]
                with Link.from_pinned(path) as other:
                    other.detach()  # BPF_LINK_DETACH: gone for every holder; `other` did not pin, so the pin stays
                    assert other.closed
                assert sc.prog_query(cg_fd, AttachType.CGROUP_INET_INGRESS)[0] == []
                assert os.path.exists(path)
                assert link.info().prog_id == p.info().id  # a detached link keeps its program
                link.detach()  # removes the pin it made
                assert not os.path.exists(path) and link.closed
                with pytest.raises(LoaderError):
                    link.info()
    finally:
        os.close(cg_fd)
        os.rmdir(cg)


def test_raw_tracepoint_open_gives_a_link():
    from pyebpf.loader import syscall as sc
    from pyebpf.loader.link import Link

    with load(Builder("raw_tracepoint", name="rawtp").ret(0).build()) as p:
        with Link(sc.raw_tracepoint_open("sys_enter", p.fd)) as link:
            assert sc.bpf_fd_kind(link.fd) == "link" and link.info().prog_id == p.info().id


def test_maps_pinned_by_name_are_shared_between_loads(pin_dir):
    import dataclasses

    prog = _counter()
    prog.maps["counts"] = dataclasses.replace(prog.maps["counts"], pinning="by_name")
    with load(prog, pin_root=pin_dir) as a:
        a.test_run(b"\0" * 64, repeat=2)
    assert os.path.exists(f"{pin_dir}/counts")
    with load(prog, pin_root=pin_dir) as b:  # reuses the pinned map and its contents
        b.test_run(b"\0" * 64, repeat=3)
        assert b.maps["counts"][0] == 5
    other = _counter()
    other.maps["counts"] = MapSpec("counts", other.maps["counts"].type, 4, 8, 2, pinning="by_name")
    before = open_fd_count()
    with pytest.raises(LoaderError, match="another shape"):
        load(other, pin_root=pin_dir)
    assert open_fd_count() == before
