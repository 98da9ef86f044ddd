"""Context builders: layouts, write-back, XDP packet adjustment; packet programs compared with BPF_PROG_TEST_RUN."""
from __future__ import annotations

import errno
import struct

import pytest

import pyebpf
from pyebpf.abi.prog_types import ProgType
from pyebpf.abi.uapi import TcAction, XdpAction
from pyebpf.errors import VmError
from pyebpf.vm import VM
from pyebpf.vm.context import (KprobeContext, PerfEventContext, RawTracepointContext, SkbContext, SysEnterContext,
                               SysExitContext, TracepointContext, XdpContext, default_context, for_packet)

M64 = (1 << 64) - 1
ENGINES = ("interp", "compiled")
ETH_IP = bytes(6) + bytes([2, 0, 0, 0, 0, 1]) + b"\x08\x00"
PACKET = ETH_IP + bytes(range(50))


@pytest.fixture(params=ENGINES)
def engine(request) -> str:
    return request.param


def vm_run(text: str, prog_type: str, engine: str, ctx):
    vm = VM(pyebpf.assemble(text), prog_type=prog_type, engine=engine)
    return vm.run(ctx)


# ---- __sk_buff ---------------------------------------------------------------------------------------------------

SKB_PROG = """
    r6 = *(u32 *)(r1 + 0)
    r7 = *(u32 *)(r1 + 16)
    r2 = *(u32 *)(r1 + 76)
    r3 = *(u32 *)(r1 + 80)
    r3 -= r2
    r8 = r6
    r8 += r7
    *(u32 *)(r1 + 8) = r8
    *(u32 *)(r1 + 48) = r3
    r4 = *(u32 *)(r1 + 52)
    r4 += 1
    *(u32 *)(r1 + 52) = r4
    r2 = *(u32 *)(r1 + 76)
    r3 = *(u32 *)(r1 + 80)
    r5 = r2
    r5 += 14
    if r5 > r3 goto out
    r9 = 0xee
    *(u8 *)(r2 + 0) = r9
out:
    r0 = 0
    exit
"""


def test_skb_fields_and_write_back(engine):
    ctx = SkbContext(PACKET, ProgType.SCHED_CLS, mark=5, cb=[0, 41])
    res = vm_run(SKB_PROG, "sched_cls", engine, ctx)
    got = res.ctx
    proto_be = 0x0008  # ETH_P_IP as __be16, read as a little-endian u32
    assert got["mark"] == len(PACKET) + proto_be
    assert got["cb"][:2] == [len(PACKET), 42]
    assert got["packet"][0] == 0xEE and got["packet"][1:] == PACKET[1:]
    assert ctx.verdict(res.r0) == TcAction.OK


def test_socket_filter_packet_is_read_only(engine):
    ctx = SkbContext(PACKET, ProgType.SOCKET_FILTER)
    with pytest.raises(VmError, match="read-only"):
        vm_run(SKB_PROG, "socket_filter", engine, ctx)


def test_skb_unknown_field_is_an_error():
    with pytest.raises(VmError, match="no field"):
        SkbContext(PACKET, nonsense=1)


def test_skb_load_bytes(engine):
    src = """
        r2 = 12
        r3 = r10
        r3 += -8
        r4 = 2
        call bpf_skb_load_bytes
        r6 = r0
        r2 = 60
        r3 = r10
        r3 += -16
        r4 = 8
        call bpf_skb_load_bytes
        r6 <<= 16
        r0 &= 0xffff
        r0 |= r6
        r1 = *(u16 *)(r10 - 8)
        r1 <<= 32
        r0 |= r1
        exit
    """
    res = vm_run(src, "sched_cls", engine, SkbContext(PACKET))
    assert res.r0 & 0xFFFF == (-errno.EFAULT) & 0xFFFF
    assert (res.r0 >> 16) & 0xFFFF == 0
    assert (res.r0 >> 32) & 0xFFFF == 0x0008


# ---- xdp_md ---------------------------------------------------------------------------------------------------------

XDP_PROG = """
    r6 = r1
    r2 = -4
    call bpf_xdp_adjust_head
    if r0 != 0 goto out
    r2 = *(u32 *)(r6 + 0)
    r3 = *(u32 *)(r6 + 4)
    r4 = r2
    r4 += 4
    if r4 > r3 goto out
    r5 = 0xdeadbeef
    *(u32 *)(r2 + 0) = r5
    r1 = r6
    r2 = -2
    call bpf_xdp_adjust_tail
    r0 = 2
    exit
out:
    r0 = 1
    exit
"""


def test_xdp_adjust_head_and_tail(engine):
    ctx = XdpContext(PACKET)
    res = vm_run(XDP_PROG, "xdp", engine, ctx)
    assert ctx.verdict(res.r0) == XdpAction.PASS
    assert res.packet == struct.pack("<I", 0xDEADBEEF) + PACKET[:-2]


@pytest.mark.parametrize("delta,ok", [(-216, True), (-217, False), (len(PACKET) - 14, True),
                                      (len(PACKET) - 13, False)])
def test_xdp_adjust_head_bounds(engine, delta, ok):
    src = f"r2 = {delta}\ncall bpf_xdp_adjust_head\nexit"
    res = vm_run(src, "xdp", engine, XdpContext(PACKET))
    assert res.r0 == (0 if ok else (-errno.EINVAL) & M64)


def test_xdp_adjust_meta(engine):
    src = """
        r6 = r1
        r2 = -8
        call bpf_xdp_adjust_meta
        if r0 != 0 goto out
        r2 = *(u32 *)(r6 + 8)
        r3 = *(u32 *)(r6 + 0)
        r4 = r2
        r4 += 8
        if r4 > r3 goto out
        r5 = 7
        *(u64 *)(r2 + 0) = r5
        r1 = r6
        r2 = -6
        call bpf_xdp_adjust_meta
        exit
    out:
        r0 = 99
        exit
    """
    ctx = XdpContext(PACKET)
    res = vm_run(src, "xdp", engine, ctx)
    assert res.r0 == (-errno.EACCES) & M64  # 14 bytes of metadata is not a multiple of 4
    assert res.ctx["metadata"] == struct.pack("<Q", 7)
    assert res.packet == PACKET


def test_stale_packet_pointer_faults_after_adjust(engine):
    src = """
        r6 = r1
        r7 = *(u32 *)(r6 + 0)
        r2 = 4
        call bpf_xdp_adjust_head
        r0 = *(u8 *)(r7 + 0)
        exit
    """
    with pytest.raises(VmError):
        vm_run(src, "xdp", engine, XdpContext(PACKET))


# ---- tracing contexts -------------------------------------------------------------------------------------------------

def test_sys_enter_and_exit(engine):
    res = vm_run("r0 = *(u64 *)(r1 + 8)\nr2 = *(u64 *)(r1 + 24)\nr0 <<= 16\nr0 += r2\nexit", "tracepoint", engine,
                 SysEnterContext(59, [0x100, 0x7]))
    assert res.r0 == (59 << 16) + 7
    res = vm_run("r0 = *(u64 *)(r1 + 16)\nexit", "tracepoint", engine, SysExitContext(1, -2))
    assert res.r0 == (-2) & M64


def test_tracepoint_context_is_read_only(engine):
    with pytest.raises(VmError, match="read-only"):
        vm_run("r2 = 1\n*(u64 *)(r1 + 8) = r2\nr0 = 0\nexit", "tracepoint", engine, TracepointContext(bytes(32)))


def test_kprobe_regs(engine):
    ctx = KprobeContext({"rdi": 11, "arg2": 22, "ip": 0xFFFFFFFF81000000})
    res = vm_run("r0 = *(u64 *)(r1 + 112)\nr2 = *(u64 *)(r1 + 104)\nr0 <<= 8\nr0 += r2\nexit", "kprobe", engine,
                 ctx)
    assert res.r0 == (11 << 8) + 22
    with pytest.raises(VmError, match="no register"):
        KprobeContext({"xmm0": 1})


def test_raw_tracepoint_and_perf_event(engine):
    res = vm_run("r0 = *(u64 *)(r1 + 8)\nr2 = *(u64 *)(r1 + 88)\nr0 += r2\nexit", "raw_tracepoint", engine,
                 RawTracepointContext([1, 2]))
    assert res.r0 == 2
    res = vm_run("r0 = *(u64 *)(r1 + 168)\nr2 = *(u64 *)(r1 + 176)\nr0 += r2\nexit", "perf_event", engine,
                 PerfEventContext({"ip": 1}, sample_period=1000, addr=5))
    assert res.r0 == 1005


def test_default_context_by_prog_type():
    assert isinstance(for_packet("xdp", PACKET), XdpContext)
    assert isinstance(for_packet(ProgType.SOCKET_FILTER, PACKET), SkbContext)
    assert isinstance(default_context("tracepoint", id=1, args=[1]), SysEnterContext)
    assert isinstance(default_context("tracepoint", id=1, ret=0), SysExitContext)
    assert isinstance(default_context("kprobe", regs={"di": 1}), KprobeContext)
    with pytest.raises(VmError):
        for_packet("kprobe", PACKET)


def test_vm_run_packet_uses_these_contexts(engine):
    vm = VM(pyebpf.assemble("r0 = *(u32 *)(r1 + 0)\nexit"), prog_type="sched_cls", engine=engine)
    assert vm.run(packet=PACKET).r0 == len(PACKET)


# ---- against BPF_PROG_TEST_RUN -------------------------------------------------------------------------------------------

@pytest.mark.kernel
def test_tc_program_matches_kernel_test_run():
    from pyebpf.loader import load

    prog = pyebpf.assemble(SKB_PROG)
    skb_in = bytearray(192)
    struct.pack_into("<I", skb_in, 8, 5)          # mark
    struct.pack_into("<5I", skb_in, 48, 0, 41, 0, 0, 0)  # cb
    with load(prog, "sched_cls") as kp:
        kres = kp.test_run(PACKET, ctx=bytes(skb_in))
    vres = VM(prog, prog_type="sched_cls").run(SkbContext(PACKET, ProgType.SCHED_CLS, mark=5, cb=[0, 41]))
    kctx = kres.ctx
    assert vres.r0 & 0xFFFFFFFF == kres.retval
    assert vres.packet == kres.data
    assert vres.ctx["mark"] == struct.unpack_from("<I", kctx, 8)[0]
    assert vres.ctx["cb"] == list(struct.unpack_from("<5I", kctx, 48))


@pytest.mark.kernel
@pytest.mark.parametrize("head,tail", [(-4, -2), (-216, 0), (-217, 0), (20, 8), (0, 3000), (0, 4000), (0, -60)])
def test_xdp_adjust_matches_kernel_test_run(head, tail):
    from pyebpf.loader import load

    src = f"""
        r6 = r1
        r2 = {head}
        call bpf_xdp_adjust_head
        r7 = r0
        r1 = r6
        r2 = {tail}
        call bpf_xdp_adjust_tail
        r7 <<= 8
        r0 &= 0xff
        r0 |= r7
        exit
    """
    prog = pyebpf.assemble(src)
    with load(prog, "xdp") as kp:
        kres = kp.test_run(PACKET)
    vres = VM(prog, prog_type="xdp").run(XdpContext(PACKET))
    assert vres.r0 & 0xFFFFFFFF == kres.retval
    # grown bytes: the kernel zeroes tail growth; head growth exposes headroom (zero in both)
    assert vres.packet == kres.data


@pytest.mark.kernel
@pytest.mark.parametrize("given", [{}, {"mark": 7, "priority": 3, "cb": [1, 2, 3, 4, 5], "tstamp": 99,
                                        "gso_segs": 2, "gso_size": 1400}])
def test_skb_readable_fields_match_kernel_test_run(given):
    """Every scalar __sk_buff field a tc program may read, as BPF_PROG_TEST_RUN sets it and as SkbContext does."""
    from pyebpf.abi.context import SK_BUFF, FieldKind, ctx_access_ok
    from pyebpf.abi.maps import MapSpec
    from pyebpf.loader import load

    fields = [f for f in SK_BUFF.fields if f.size in (4, 8) and f.kind == FieldKind.SCALAR
              and ctx_access_ok(ProgType.SCHED_CLS, f.offset, f.size, False)[0]]
    spec = MapSpec.of("out", "array", 4, 8 * len(fields), 1)
    lines = ["r6 = r1", "*(u32 *)(r10 - 4) = 0", "r1 = map[out] ll", "r2 = r10", "r2 += -4",
             "call bpf_map_lookup_elem", "if r0 == 0 goto out"]
    for i, f in enumerate(fields):
        lines += [f"r1 = *({'u32' if f.size == 4 else 'u64'} *)(r6 + {f.offset})", f"*(u64 *)(r0 + {8 * i}) = r1"]
    lines += ["out:", "r0 = 0", "exit"]
    prog = pyebpf.assemble("\n".join(lines), maps=[spec])
    ctx_in = bytearray(SK_BUFF.size)
    for name, value in given.items():
        for i, v in enumerate(value if isinstance(value, list) else [value]):
            f = SK_BUFF[f"{name}[{i}]"] if isinstance(value, list) else SK_BUFF[name]
            ctx_in[f.offset:f.offset + f.size] = v.to_bytes(f.size, "little")
    with load(prog, "sched_cls") as kp:
        kp.test_run(PACKET, ctx=bytes(ctx_in))
        kvals = kp.maps["out"].lookup_raw(bytes(4))
    vm = VM(prog, prog_type="sched_cls")
    vm.run(SkbContext(PACKET, ProgType.SCHED_CLS, **given))
    vvals = vm.maps["out"].lookup_raw(bytes(4))
    diffs = [(f.name, int.from_bytes(kvals[8 * i:8 * i + 8], "little"), int.from_bytes(vvals[8 * i:8 * i + 8], "little"))
             for i, f in enumerate(fields) if kvals[8 * i:8 * i + 8] != vvals[8 * i:8 * i + 8]]
    assert not diffs, f"(field, kernel, vm): {diffs}"


@pytest.mark.kernel
def test_xdp_md_fields_match_kernel_test_run():
    """ingress_ifindex, rx_queue_index and the packet pointers' distances, as BPF_PROG_TEST_RUN sets them."""
    from pyebpf.abi.maps import MapSpec
    from pyebpf.loader import load

    spec = MapSpec.of("out", "array", 4, 32, 1)
    src = """
        r6 = r1
        *(u32 *)(r10 - 4) = 0
        r1 = map[out] ll
        r2 = r10
        r2 += -4
        call bpf_map_lookup_elem
        if r0 == 0 goto out
        r1 = *(u32 *)(r6 + 12)
        *(u64 *)(r0 + 0) = r1
        r1 = *(u32 *)(r6 + 16)
        *(u64 *)(r0 + 8) = r1
        r1 = *(u32 *)(r6 + 4)
        r2 = *(u32 *)(r6 + 0)
        r1 -= r2
        *(u64 *)(r0 + 16) = r1
        r3 = *(u32 *)(r6 + 8)
        r2 -= r3
        *(u64 *)(r0 + 24) = r2
    out:
        r0 = 2
        exit
    """
    prog = pyebpf.assemble(src, maps=[spec])
    with load(prog, "xdp") as kp:
        kp.test_run(PACKET)
        kvals = kp.maps["out"].lookup_raw(bytes(4))
    vm = VM(prog, prog_type="xdp")
    vm.run(XdpContext(PACKET))
    assert struct.unpack("<4Q", vm.maps["out"].lookup_raw(bytes(4))) == struct.unpack("<4Q", kvals)


@pytest.mark.kernel
def test_socket_filter_sees_the_network_header_like_test_run():
    """BPF_PROG_TEST_RUN of a socket filter starts skb->data at the network header: SkbContext(frame) of a socket
    filter does the same (len, protocol from the ethertype, LD_ABS bytes)."""
    from pyebpf.loader import load

    src = """
        r6 = r1
        r7 = *(u32 *)(r6 + 0)
        r8 = *(u32 *)(r6 + 16)
        r0 = *(u8 *)skb[1]
        r0 <<= 16
        r7 <<= 8
        r0 |= r7
        r0 |= r8
        exit
    """
    prog = pyebpf.assemble(src)
    frame = ETH_IP + bytes([0x45, 0x99]) + bytes(48)
    with load(prog, "socket_filter") as kp:
        kret = kp.test_run(frame).retval
    vm = VM(prog, prog_type="socket_filter")
    assert vm.run(SkbContext(frame, ProgType.SOCKET_FILTER)).r0 == kret
    assert vm.run(packet=frame).r0 == kret


@pytest.mark.parametrize("prog_type", ["socket_filter", "cgroup_skb", "lwt_in"])
def test_non_l2_skb_starts_at_the_network_header_like_test_run(prog_type: str):
    """bpf_prog_test_run_skb (!is_l2): eth_type_trans pulls the Ethernet header, so len = frame - 14, protocol is
    the ethertype, LD_ABS offset 0 is the first IP byte; the frame comes back with its 14 Ethernet bytes zeroed."""
    src = """
        r6 = r1
        r7 = *(u32 *)(r6 + 0)
        r8 = *(u32 *)(r6 + 16)
        r0 = *(u8 *)skb[0]
        r0 <<= 16
        r7 <<= 8
        r0 |= r7
        r0 |= r8
        exit
    """
    res = VM(pyebpf.assemble(src), prog_type=prog_type).run(packet=PACKET)
    assert res.r0 == (PACKET[14] << 16) | ((len(PACKET) - 14) << 8) | 0x0008  # protocol is __be16
    assert res.packet == bytes(14) + PACKET[14:]


def test_tc_still_starts_at_the_ethernet_header():
    res = VM(pyebpf.assemble("r0 = *(u32 *)(r1 + 0)\nexit"), prog_type="sched_cls").run(packet=PACKET)
    assert res.r0 == len(PACKET) and res.packet == PACKET


def test_socket_filter_refuses_a_frame_shorter_than_an_ethernet_header():
    with pytest.raises(VmError, match="EINVAL"):
        for_packet(ProgType.SOCKET_FILTER, bytes(13))
    assert for_packet(ProgType.SCHED_CLS, bytes(13)).data == bytes(13)


def test_eth_type_trans_protocol_of_802_3_frames():
    llc = bytes(12) + (50).to_bytes(2, "big") + b"\xaa\xaa" + bytes(48)
    raw_ipx = bytes(12) + (50).to_bytes(2, "big") + b"\xff\xff" + bytes(48)
    assert SkbContext(llc, ProgType.SOCKET_FILTER)._protocol() == 0x0400  # ETH_P_802_2, stored big-endian
    assert SkbContext(raw_ipx, ProgType.SOCKET_FILTER)._protocol() == 0x0100  # ETH_P_802_3


@pytest.mark.kernel
@pytest.mark.parametrize("prog_type", ["socket_filter", "sched_cls"])
def test_eth_type_trans_fields_agree_with_test_run(prog_type: str):
    """len, pkt_type (from the destination MAC, on lo) and protocol (ethertype or 802.2/802.3) as the kernel's
    BPF_PROG_TEST_RUN shows them, for unicast/own/broadcast/multicast destinations and Ethernet II/802.3 frames."""
    from pyebpf.abi.context import SK_BUFF
    from pyebpf.loader import load

    prog = pyebpf.assemble(f"""
        r2 = *(u32 *)(r1 + {SK_BUFF["pkt_type"].offset})
        r3 = *(u32 *)(r1 + {SK_BUFF["protocol"].offset})
        r0 = *(u32 *)(r1 + 0)
        r2 <<= 8
        r0 |= r2
        r3 <<= 16
        r0 |= r3
        exit
    """)
    frames = [bytes.fromhex(dst + "020000000002" + ethertype) + payload
              for dst in ("020000000001", "000000000000", "ffffffffffff", "01005e000001")
              for ethertype, payload in (("0800", bytes([0x45]) + bytes(40)), ("0032", b"\xaa\xaa" + bytes(48)),
                                         ("0032", b"\xff\xff" + bytes(48)))]
    with load(prog, prog_type) as kp:
        kernel = [kp.test_run(f).retval for f in frames]
    vm = VM(prog, prog_type=prog_type)
    assert [vm.run(packet=f).r0 & 0xFFFFFFFF for f in frames] == kernel
