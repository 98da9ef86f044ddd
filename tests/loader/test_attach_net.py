"""Networking attachments against the running kernel: socket filter, XDP and tc on a veth between two namespaces
this test creates (TEST-NET-1 addresses, traffic only between them), and their clean removal."""
from __future__ import annotations

import ctypes
import errno
import os
import socket
import subprocess
import sys
import textwrap
import time

import pytest

from netns import recv_all, send_udp, veth_pair
from pyebpf.errors import LoaderError
from pyebpf.isa.builder import R0, R1, R2, R3, R4, R5, R6, R7, R10, Builder
from pyebpf.testing.plugin import skip_missing_feature

pytestmark = pytest.mark.kernel

XDP_DROP, XDP_PASS = 1, 2
TC_ACT_OK, TC_ACT_SHOT = 0, 2
SKB_DATA, SKB_DATA_END = 76, 80  # struct __sk_buff offsets of data / data_end


def _child_env() -> dict[str, str]:
    """A child Python imports the pyebpf under test (this checkout), whatever is installed."""
    import pyebpf

    root = os.path.dirname(os.path.dirname(os.path.abspath(pyebpf.__file__)))
    return {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in (root, os.environ.get("PYTHONPATH")) if p)}


def _fds() -> set[str]:
    return set(os.listdir("/proc/self/fd"))


def _be16(port: int) -> int:
    """A port as a little-endian u16 load of its network-order bytes sees it."""
    return int.from_bytes(port.to_bytes(2, "big"), "little")


def add_one(b: Builder, slot: int) -> None:
    b.store(R10 - 4, slot, "u32")
    b.ld_map(R1, "counts").mov(R2, R10).add(R2, -4).call("map_lookup_elem")
    with b.if_(R0 != 0):
        b.mov(R1, 1).atomic_add(R0 + 0, R1)


def udp_port_filter(prog_type: str, data_off: int, data_end_off: int, port: int, drop: int, keep: int):
    """Count every packet in slot 0; packets of IPv4/UDP to `port` are counted in slot 1 and get `drop`."""
    b = Builder(prog_type)
    b.map("counts", "array", key=ctypes.c_uint32, value=ctypes.c_uint64, max_entries=2)
    b.mov(R6, R1)
    add_one(b, 0)
    b.load(R2, R6 + data_off, "u32").load(R3, R6 + data_end_off, "u32")
    b.mov(R4, R2).add(R4, 14 + 20 + 8)
    b.jump_if(R4 > R3, "keep")
    b.load(R5, R2 + 12, "u16")
    b.jump_if(R5 != 0x0008, "keep")  # ETH_P_IP in network order
    b.load(R5, R2 + 23, "u8")
    b.jump_if(R5 != socket.IPPROTO_UDP, "keep")
    b.load(R5, R2 + 36, "u16")
    b.jump_if(R5 != _be16(port), "keep")
    add_one(b, 1)
    b.ret(drop)
    b.label("keep")
    b.ret(keep)
    return b.build()


def trivial(prog_type: str, ret: int = 0):
    b = Builder(prog_type)
    b.ret(ret)
    return b.build()


# ---- socket filter -----------------------------------------------------------------------------------------------

def drop_payload_starting_with(letter: bytes):
    """Socket filter: at sk_filter time on a UDP socket skb->data is the UDP header, so payload[0] is at 8."""
    b = Builder("socket_filter")
    b.map("counts", "array", key=ctypes.c_uint32, value=ctypes.c_uint64, max_entries=2)
    b.mov(R6, R1)
    add_one(b, 0)
    b.mov(R1, R6).mov(R2, 8).mov(R3, R10).add(R3, -16).mov(R4, 1).call("skb_load_bytes")
    b.jump_if(R0 != 0, "keep")
    b.load(R7, R10 - 16, "u8")
    b.jump_if(R7 != letter[0], "keep")
    add_one(b, 1)
    b.ret(0)
    b.label("keep")
    b.ret(0xFFFF)
    return b.build()


def test_socket_filter_drops_and_accepts_udp():
    from pyebpf.loader import load
    from pyebpf.loader.attach import attach_socket_filter

    rx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    tx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        rx.bind(("127.0.0.1", 0))
        with load(drop_payload_starting_with(b"D")) as prog:
            with attach_socket_filter(prog, rx):
                for payload in (b"Drop1", b"Keep1", b"Drop2", b"Keep2", b"Keep3"):
                    tx.sendto(payload, rx.getsockname())
                got = recv_all(rx, 0.2, expect=3)
            assert sorted(got) == [b"Keep1", b"Keep2", b"Keep3"]
            counts = prog.maps["counts"]
            assert (counts[0], counts[1]) == (5, 2)
            tx.sendto(b"Detached", rx.getsockname())
            assert recv_all(rx, 0.2, expect=1) == [b"Detached"]
            assert counts[0] == 5
    finally:
        rx.close()
        tx.close()


def test_socket_filter_by_fd_and_on_closed_socket():
    from pyebpf.loader import load
    from pyebpf.loader.attach import attach_socket_filter

    with load(drop_payload_starting_with(b"D")) as prog:
        before = _fds()
        rx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        rx.bind(("127.0.0.1", 0))
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as tx:
            att = attach_socket_filter(prog, rx.fileno())
            tx.sendto(b"Dx", rx.getsockname())
            tx.sendto(b"Kx", rx.getsockname())
            assert recv_all(rx, 0.2, expect=1) == [b"Kx"]
            att.detach()
            tx.sendto(b"Dy", rx.getsockname())
            assert recv_all(rx, 0.2, expect=1) == [b"Dy"]
            att2 = attach_socket_filter(prog, rx)
            rx.close()
            att2.detach()  # socket already gone: nothing to undo, no error
        assert _fds() == before
        closed = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        closed.close()
        with pytest.raises(LoaderError):
            attach_socket_filter(prog, closed)


# ---- XDP ---------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("use_link", [False, True], ids=["netlink", "bpf_link"])
def test_xdp_counts_and_drops_udp_in_netns(use_link):
    from pyebpf.loader import load
    from pyebpf.loader.attach import attach_xdp, prog_id
    from pyebpf.loader.netlink import xdp_query

    with veth_pair() as pair:
        tx, rx, dest = pair.udp_pair()
        other = pair.socket("b")
        other.bind((pair.addr_b, 0))
        with tx, rx, other, load(udp_port_filter("xdp", 0, 4, dest[1], XDP_DROP, XDP_PASS)) as prog:
            ifindex = pair.ifindex("b")
            with attach_xdp(prog, pair.if_b, mode="skb", netns=pair.ns_b, use_link=use_link) as att:
                assert (att.link_fd is not None) == use_link
                state = xdp_query(ifindex, pair.ns_b)
                assert state["prog_id"] == prog_id(prog.fd) == att.details["prog_id"]
                assert state["mode"] == 2  # XDP_ATTACHED_SKB
                send_udp(tx, dest, 10)
                send_udp(tx, other.getsockname(), 4)
                assert recv_all(rx, 0.2) == []
                assert len(recv_all(other, 0.2, expect=4)) == 4
                counts = prog.maps["counts"]
                assert counts[1] == 10
                assert counts[0] >= 14  # plus ARP
            assert xdp_query(ifindex, pair.ns_b)["prog_id"] == 0
            send_udp(tx, dest, 3)
            assert len(recv_all(rx, 0.3, expect=3)) == 3
            assert counts[1] == 10


def test_xdp_no_silent_replace_and_detach_spares_a_newer_program():
    from pyebpf.loader import load
    from pyebpf.loader.attach import attach_xdp, prog_id
    from pyebpf.loader.netlink import xdp_query

    with veth_pair() as pair, load(trivial("xdp", XDP_PASS)) as first, load(trivial("xdp", XDP_PASS)) as second:
        ifindex = pair.ifindex("b")
        before = _fds()
        a = attach_xdp(first, pair.if_b, netns=pair.ns_b)
        with pytest.raises(LoaderError) as info:
            attach_xdp(second, pair.if_b, netns=pair.ns_b)
        assert info.value.errno in (errno.EBUSY, errno.EEXIST)
        assert xdp_query(ifindex, pair.ns_b)["prog_id"] == prog_id(first.fd)
        b = attach_xdp(second, ifindex, netns=pair.ns_b, replace=True)
        a.detach()  # not ours any more: must leave the second program in place
        assert xdp_query(ifindex, pair.ns_b)["prog_id"] == prog_id(second.fd)
        b.detach()
        assert xdp_query(ifindex, pair.ns_b)["prog_id"] == 0
        with pytest.raises(LoaderError) as info:
            attach_xdp(first, "no-such-if0", netns=pair.ns_b)
        assert info.value.errno == errno.ENODEV
        with pytest.raises(LoaderError):
            attach_xdp(first, pair.if_b, mode="turbo", netns=pair.ns_b)
        assert _fds() == before


def test_xdp_detach_after_namespace_is_gone():
    from pyebpf.loader import load
    from pyebpf.loader.attach import attach_xdp

    with load(trivial("xdp", XDP_PASS)) as prog:
        with veth_pair() as pair:
            att = attach_xdp(prog, pair.if_b, netns=pair.ns_b)
        att.detach()  # the interface vanished with its namespace: already detached, no error
        assert not att.attached


# ---- tc ----------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("use_tcx", [False, True], ids=["clsact", "tcx"])
def test_tc_egress_drop_and_ingress_count_direct_action(use_tcx):
    from pyebpf.loader import features, load

    if use_tcx and not features.tcx():
        skip_missing_feature("no tcx links on this kernel (Linux 6.6+)")
    from pyebpf.loader import netlink as nl
    from pyebpf.loader.attach import attach_tc

    with veth_pair() as pair:
        tx, rx, dest = pair.udp_pair()
        egress_prog = udp_port_filter("sched_cls", SKB_DATA, SKB_DATA_END, dest[1], TC_ACT_SHOT, TC_ACT_OK)
        ingress_prog = udp_port_filter("sched_cls", SKB_DATA, SKB_DATA_END, dest[1], TC_ACT_OK, TC_ACT_OK)
        with tx, rx, load(egress_prog) as eg, load(ingress_prog) as ing:
            ia, ib = pair.ifindex("a"), pair.ifindex("b")
            with attach_tc(ing, pair.if_b, "ingress", netns=pair.ns_b, use_tcx=use_tcx) as t_in:
                send_udp(tx, dest, 6)
                assert len(recv_all(rx, 0.3, expect=6)) == 6
                assert ing.maps["counts"][1] == 6
                filters = nl.tc_filters(ib, nl.TcParent.INGRESS, pair.ns_b)
                if use_tcx:
                    assert t_in.kind == "tcx" and t_in.link_fd is not None and filters == []
                else:
                    assert [(f["kind"], f["prio"]) for f in filters] == [("bpf", 1)]
                    assert t_in.details["added_qdisc"]
                with attach_tc(eg, pair.if_a, "egress", netns=pair.ns_a, use_tcx=use_tcx):
                    send_udp(tx, dest, 5)
                    assert recv_all(rx, 0.3) == []
                    assert eg.maps["counts"][1] == 5
                    assert ing.maps["counts"][1] == 6  # dropped before reaching b0
                assert not nl.has_clsact(ia, pair.ns_a)
                assert nl.tc_filters(ia, nl.TcParent.EGRESS, pair.ns_a) == []
                send_udp(tx, dest, 2)
                assert len(recv_all(rx, 0.3, expect=2)) == 2
            assert not nl.has_clsact(ib, pair.ns_b)
            assert nl.tc_filters(ib, nl.TcParent.INGRESS, pair.ns_b) == []
            qdiscs = subprocess.run(["ip", "netns", "exec", pair.ns_b, "tc", "qdisc", "show", "dev", pair.if_b],
                                    capture_output=True, text=True).stdout
            assert "clsact" not in qdiscs
            send_udp(tx, dest, 1)
            assert len(recv_all(rx, 0.3, expect=1)) == 1
            assert ing.maps["counts"][1] == 8  # 6 + 2: nothing counted once detached


def test_tc_keeps_a_clsact_it_did_not_add_and_cleans_up_on_failure():
    """cls_bpf through netlink (via="netlink"): the qdisc is ours to remove only if we added it."""
    from pyebpf.loader import load
    from pyebpf.loader import netlink as nl
    from pyebpf.loader.attach import attach_tc

    with veth_pair() as pair, load(trivial("sched_cls")) as prog, load(trivial("socket_filter")) as wrong:
        ib = pair.ifindex("b")
        before = _fds()
        # the kernel refuses a socket filter program as a cls_bpf filter: the qdisc we added must go again
        with pytest.raises(LoaderError):
            attach_tc(wrong, pair.if_b, "ingress", netns=pair.ns_b, via="netlink")
        assert not nl.has_clsact(ib, pair.ns_b)
        with pytest.raises(LoaderError):
            attach_tc(prog, pair.if_b, "sideways", netns=pair.ns_b, via="netlink")
        with pytest.raises(LoaderError) as info:
            attach_tc(prog, "no-such-if0", netns=pair.ns_b, via="netlink")
        assert info.value.errno == errno.ENODEV
        nl.clsact_add(ib, pair.ns_b)
        with attach_tc(prog, pair.if_b, "egress", netns=pair.ns_b, via="netlink") as att:
            assert not att.details["added_qdisc"]
            with pytest.raises(LoaderError) as info:  # same prio/handle: exclusive, never replaced
                attach_tc(prog, pair.if_b, "egress", netns=pair.ns_b, via="netlink")
            assert info.value.errno == errno.EEXIST
            assert len(nl.tc_filters(ib, nl.TcParent.EGRESS, pair.ns_b)) == 1
        assert nl.has_clsact(ib, pair.ns_b)  # not ours: kept
        assert nl.tc_filters(ib, nl.TcParent.EGRESS, pair.ns_b) == []
        assert _fds() == before


def test_netlink_attachments_released_at_process_exit(tmp_path):
    """XDP and tc outlive their fds; the exit hook must remove them when the process ends without detaching."""
    from pyebpf.loader import netlink as nl

    with veth_pair() as pair:
        script = tmp_path / "child.py"
        script.write_text(textwrap.dedent(f"""
            from pyebpf.isa.builder import Builder
            from pyebpf.loader import load
            from pyebpf.loader.attach import attach_tc, attach_xdp
            b = Builder("xdp"); b.ret(2); x = load(b.build())
            b = Builder("sched_cls"); b.ret(0); t = load(b.build())
            attach_xdp(x, {pair.if_b!r}, netns={pair.ns_b!r}, via="netlink")
            attach_tc(t, {pair.if_b!r}, "ingress", netns={pair.ns_b!r}, via="netlink")
            print("attached")
        """))
        out = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=60,
                             env=_child_env())
        assert out.stdout.strip() == "attached", out.stderr
        ib = pair.ifindex("b")
        assert nl.xdp_query(ib, pair.ns_b)["prog_id"] == 0
        assert not nl.has_clsact(ib, pair.ns_b)


def test_link_attachments_vanish_on_sigkill(tmp_path):
    """XDP and tcx links die with the process even on SIGKILL (no exit hook runs): nothing is left behind."""
    from pyebpf.loader import features

    if not (features.tcx() and features.xdp_link()):
        skip_missing_feature("no tcx or XDP links on this kernel (Linux 6.6+ / 5.9+)")
    import signal

    from pyebpf.loader import netlink as nl
    from pyebpf.loader.info import link_infos

    with veth_pair() as pair:
        script = tmp_path / "child.py"
        script.write_text(textwrap.dedent(f"""
            import sys, time
            from pyebpf.isa.builder import Builder
            from pyebpf.loader import load
            from pyebpf.loader.attach import attach_tc, attach_xdp
            b = Builder("xdp"); b.ret(2); x = load(b.build())
            b = Builder("sched_cls"); b.ret(0); t = load(b.build())
            a1 = attach_xdp(x, {pair.if_b!r}, netns={pair.ns_b!r}, use_link=True)
            a2 = attach_tc(t, {pair.if_b!r}, "ingress", netns={pair.ns_b!r}, use_tcx=True)
            print(x.id, t.id, flush=True)
            time.sleep(60)
        """))
        child = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True, env=_child_env())
        try:
            ids = {int(v) for v in child.stdout.readline().split()}
            assert len(ids) == 2
            ib = pair.ifindex("b")
            assert nl.xdp_query(ib, pair.ns_b)["prog_id"] in ids
            assert {li.prog_id for li in link_infos()} >= ids
        finally:
            child.send_signal(signal.SIGKILL)
            child.wait(timeout=30)
            child.stdout.close()
        deadline = time.monotonic() + 5  # the kernel may free links from a work item after the exit
        while {li.prog_id for li in link_infos()} & ids and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not ({li.prog_id for li in link_infos()} & ids)
        assert nl.xdp_query(ib, pair.ns_b)["prog_id"] == 0
