"""Attach by the SEC() table (ATTACHERS[kind]), the Link type, forced fallbacks for kernels without XDP links or
tcx, and `pyebpf load --pinmaps` with pinning=by_name maps — against the running kernel."""
from __future__ import annotations

import ctypes
import dataclasses
import errno
import os
import uuid

import pytest

from netns import veth_pair
from pyebpf.abi.prog_types import AttachKind, AttachType
from pyebpf.cli import main
from pyebpf.errors import LoaderError
from pyebpf.isa.builder import R0, R1, R2, R6, R7, R10, Builder
from pyebpf.loader import ensure_bpffs, features, load, open_pinned
from pyebpf.loader.attach import ATTACHERS, Link, attach, attach_tc, attach_xdp, auto_attachable, kind_of, net_list
from pyebpf.testing.plugin import skip_missing_feature

pytestmark = pytest.mark.kernel


def _counter(prog_type: str, **kw):
    """Counts its runs (for this process only) in array slot 0."""
    b = Builder(prog_type, **kw)
    b.map("counts", "array", key=ctypes.c_uint32, value=ctypes.c_uint64, max_entries=1)
    b.mov(R6, R1)
    b.call("get_current_pid_tgid").rsh(R0, 32)
    b.jump_if(R0 != os.getpid(), "out")
    b.store(R10 - 4, 0, "u32")
    b.ld_map(R1, "counts").mov(R2, R10).add(R2, -4).call("map_lookup_elem")
    with b.if_(R0 != 0):
        b.mov(R7, 1).atomic_add(R0 + 0, R7)
    b.label("out")
    b.ret(0)
    return b.build()


@pytest.mark.parametrize("how", ["sec_prefix", "colon", "attach_to", "kind"])
def test_tracepoint_through_the_table(how):
    attach_to = "syscalls/sys_enter_getppid" if how == "attach_to" else None
    with load(_counter("tracepoint", attach_to=attach_to)) as prog:
        assert kind_of(prog) == AttachKind.TRACEPOINT and ATTACHERS[AttachKind.TRACEPOINT].auto
        if how == "sec_prefix":
            link = prog.attach("tp/syscalls/sys_enter_getppid")
        elif how == "colon":
            link = prog.attach("syscalls:sys_enter_getppid")
        elif how == "attach_to":
            link = prog.attach()
        else:
            link = attach(prog, "syscalls/sys_enter_getppid", kind="tracepoint")
        assert isinstance(link, Link) and link.kind == "tracepoint" and link.is_bpf_link
        assert (link in prog.links) == (how != "kind")
        info = link.info()
        assert info.prog_id == prog.id and info.id == link.id
        for _ in range(4):
            os.getppid()
        link.close()
        os.getppid()
        assert prog.maps["counts"][0] == 4


def test_program_close_closes_its_links():
    with load(_counter("raw_tracepoint")) as prog:
        link = prog.attach("sys_enter")
        assert link.kind == "raw_tracepoint" and not link.closed
    assert link.closed


def test_table_refuses_what_it_cannot_attach():
    with load(Builder("socket_filter").ret(0).build()) as sock, load(Builder("tracepoint").ret(0).build()) as tp:
        assert kind_of(sock) == AttachKind.NONE
        with pytest.raises(LoaderError) as info:
            sock.attach("eth0")
        assert info.value.errno == errno.EOPNOTSUPP and "attach_socket_filter" in str(info.value)
        with pytest.raises(LoaderError) as info:
            tp.attach()
        assert info.value.errno == errno.EINVAL and "category/name" in str(info.value)
        with pytest.raises(LoaderError) as info:
            attach(tp, "x", kind="warp_drive")
        assert info.value.errno == errno.EINVAL
        assert sock.links == [] and tp.links == []


def test_auto_attachable_follows_the_table():
    assert auto_attachable(Builder("tracepoint", attach_to="syscalls/sys_enter_openat").ret(0).build())
    assert not auto_attachable(Builder("tracepoint").ret(0).build())  # no target
    assert not auto_attachable(Builder("xdp", attach_to="eth0").ret(0).build())  # a device is the caller's choice
    assert auto_attachable(Builder("kprobe", attach_to="do_sys_openat2").ret(0).build())


@pytest.mark.parametrize("feature", ["xdp_link", "tcx"])
def test_kernels_without_xdp_links_or_tcx_get_netlink(feature):
    """The attach follows the feature probe: forced off (as on older kernels), netlink is used; via='link' then
    is a typed EOPNOTSUPP."""
    if not getattr(features, feature)():
        skip_missing_feature(f"this kernel has no {feature}: the netlink path is the default here already")
    features.force(feature, False)
    try:
        with veth_pair() as pair, load(Builder("xdp").ret(2).build()) as x, \
                load(Builder("sched_cls").ret(0).build()) as t:
            if feature == "xdp_link":
                with pytest.raises(LoaderError) as info:
                    attach_xdp(x, pair.if_b, netns=pair.ns_b, via="link")
                assert info.value.errno == errno.EOPNOTSUPP
                link = x.attach(pair.if_b, netns=pair.ns_b)
                assert link.kind == "xdp" and not link.is_bpf_link
                assert [(a.hook, a.via) for a in net_list(pair.if_b, pair.ns_b)] == [("xdp", "netlink")]
            else:
                with pytest.raises(LoaderError) as info:
                    attach_tc(t, pair.if_b, netns=pair.ns_b, via="link")
                assert info.value.errno == errno.EOPNOTSUPP
                link = t.attach(f"{pair.if_b}/egress", netns=pair.ns_b)
                assert link.kind == "tc" and not link.is_bpf_link
                assert [(a.hook, a.direction) for a in net_list(pair.if_b, pair.ns_b)] == [("tc", "egress")]
            link.close()
            assert net_list(pair.if_b, pair.ns_b) == []
    finally:
        features.force(feature, None)


def test_tcx_direction_from_expected_attach_type_and_pinned_link_outlives_close():
    if not features.tcx():
        skip_missing_feature("no tcx links on this kernel (Linux 6.6+)")
    base = os.path.join(ensure_bpffs(), f"pyebpf_link_{uuid.uuid4().hex[:8]}")
    program = Builder("sched_cls").ret(0).build()
    program.expected_attach_type = AttachType.TCX_EGRESS
    with veth_pair() as pair, load(program) as t:
        link = t.attach(pair.if_b, netns=pair.ns_b)
        assert link.kind == "tcx" and link.details["direction"] == "egress"
        link.pin(base)
        link.close()  # ours is closed, the pin holds the attachment
        assert [(a.hook, a.direction, a.via, a.prog_id) for a in net_list(pair.if_b, pair.ns_b)] == \
            [("tcx", "egress", "link", t.id)]
        with Link.from_pinned(base) as again:
            assert again.kind == "tcx" and again.info().prog_id == t.id
            again.detach()  # for everyone; the pin (not made by `again`) stays until removed
        assert net_list(pair.if_b, pair.ns_b) == []
        os.unlink(base)


def test_load_pinmaps_reuses_maps_pinned_by_name(tmp_path, capsys):
    """`pyebpf load --pinmaps DIR`: a pinning=by_name map is created and pinned in DIR (not /sys/fs/bpf/NAME) on
    the first run and reused by the next, which succeeds instead of failing with EEXIST."""
    name = f"pm{uuid.uuid4().hex[:10]}"
    src = tmp_path / "pinmaps.s"
    src.write_text(f".type socket_filter\n.map {name} array key=4 value=8 max_entries=1 pinning=by_name\n"
                   f"r0 = 0\nexit\n")
    pin_dir = os.path.join(ensure_bpffs(), f"pyebpf_pinmaps_{uuid.uuid4().hex[:8]}")
    os.mkdir(pin_dir)
    try:
        ids = []
        for _ in range(2):
            assert main(["load", str(src), "--pinmaps", pin_dir]) == 0, capsys.readouterr().err
            with open_pinned(os.path.join(pin_dir, name)) as m:
                ids.append(m.info().id)
        assert ids[0] == ids[1]
        assert not os.path.exists(os.path.join(ensure_bpffs(), name))  # no stray pin at the default root
    finally:
        for entry in os.listdir(pin_dir):
            os.unlink(os.path.join(pin_dir, entry))
        os.rmdir(pin_dir)


def test_pinmaps_elf_object_reuses_by_name_map(tmp_path, capsys):
    from pyebpf.loader.elf_writer import write_elf

    name = f"pe{uuid.uuid4().hex[:10]}"
    b = Builder("socket_filter", name="pinmaps_elf")  # map_lookup_elem only: every kernel allows it here
    b.map(name, "array", key=ctypes.c_uint32, value=ctypes.c_uint64, max_entries=1)
    b.store(R10 - 4, 0, "u32")
    b.ld_map(R1, name).mov(R2, R10).add(R2, -4).call("map_lookup_elem")
    b.ret(0)
    prog = b.build()
    prog.maps[name] = dataclasses.replace(prog.maps[name], pinning="by_name")
    obj = str(tmp_path / "pinmaps.o")
    write_elf(prog, obj)
    pin_dir = os.path.join(ensure_bpffs(), f"pyebpf_pinmaps_{uuid.uuid4().hex[:8]}")
    os.mkdir(pin_dir)
    try:
        for _ in range(2):
            assert main(["load", obj, "--pinmaps", pin_dir]) == 0, capsys.readouterr().err
        assert os.listdir(pin_dir) == [name]
        assert not os.path.exists(os.path.join(ensure_bpffs(), name))
    finally:
        for entry in os.listdir(pin_dir):
            os.unlink(os.path.join(pin_dir, entry))
        os.rmdir(pin_dir)


def test_sk_lookup_on_a_network_namespace_through_the_table():
    """The NETNS kind (sk_lookup, flow_dissector): an sk_lookup program answering SK_DROP in namespace b drops UDP
    to a bound socket there until its link is closed."""
    from netns import recv_all, send_udp
    from pyebpf.abi.uapi import BpfLinkType
    from pyebpf.loader import syscall as sc

    program = Builder("sk_lookup").ret(0).build()  # SK_DROP
    program.expected_attach_type = AttachType.SK_LOOKUP
    with veth_pair() as pair, load(program) as prog:
        tx, rx, dest = pair.udp_pair()
        with tx, rx:
            assert kind_of(prog) == AttachKind.NETNS
            with prog.attach(pair.ns_b) as link:
                info = link.info()
                assert info.type == BpfLinkType.NETNS and info.prog_id == prog.id
                nsfd = os.open(f"/run/netns/{pair.ns_b}", os.O_RDONLY)
                try:
                    assert sc.prog_query(nsfd, AttachType.SK_LOOKUP)[0] == [prog.id]
                finally:
                    os.close(nsfd)
                send_udp(tx, dest, 3)
                assert recv_all(rx, 0.3) == []
            send_udp(tx, dest, 2)
            assert len(recv_all(rx, 0.3, expect=2)) == 2
        with pytest.raises(LoaderError) as info:
            prog.attach("pyebpf-no-such-netns")
        assert info.value.errno == errno.ENOENT


def test_the_section_name_picks_the_kind():
    """A Program carries its SEC() name: 'kretprobe/x' attaches on return although its attach_to is only 'x'."""
    program = Builder("kprobe", attach_to="do_exit").ret(0).build()
    assert kind_of(program) == AttachKind.KPROBE
    program.section = "kretprobe/do_exit"
    assert kind_of(program) == AttachKind.KRETPROBE and auto_attachable(program)
    program.section = "uretprobe//bin/sh:main"
    assert kind_of(program) == AttachKind.URETPROBE
