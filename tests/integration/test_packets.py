"""One packet through XDP, sched_cls and socket filter programs in the VM and in the kernel: the same r0/retval,
the same packet out, the same map contents, read with the same calls."""
from __future__ import annotations

import ctypes
import struct

import pytest

from backends import open_program
from pyebpf import assemble
from pyebpf.abi.context import SK_BUFF
from pyebpf.abi.maps import MapSpec
from pyebpf.abi.prog_types import ProgType
from pyebpf.abi.uapi import TcAction, XdpAction
from pyebpf.errors import LoaderError, VmError

ETH_HLEN = 14
DST, SRC = bytes.fromhex("020000000001"), bytes.fromhex("020000000002")


def udp_frame(payload: bytes = b"integration!") -> bytes:
    udp = struct.pack("!HHHH", 4000, 53, 8 + len(payload), 0) + payload
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), 1, 0, 64, 17, 0, bytes([10, 0, 0, 1]),
                     bytes([10, 0, 0, 2]))
    return DST + SRC + b"\x08\x00" + ip + udp


STATS = MapSpec.of("stats", "array", ctypes.c_uint32, ctypes.c_uint64, 2)

#: swap the MAC addresses, count bytes in stats[0] and packets in stats[1], XDP_TX
XDP_SWAP = f"""
    r6 = *(u32 *)(r1 + 0)
    r7 = *(u32 *)(r1 + 4)
    r2 = r6
    r2 += 12
    if r2 > r7 goto drop
    r3 = *(u32 *)(r6 + 0)
    r4 = *(u16 *)(r6 + 4)
    r5 = *(u32 *)(r6 + 6)
    r8 = *(u16 *)(r6 + 10)
    *(u32 *)(r6 + 0) = r5
    *(u16 *)(r6 + 4) = r8
    *(u32 *)(r6 + 6) = r3
    *(u16 *)(r6 + 10) = r4
    r7 -= r6
    *(u32 *)(r10 - 4) = 0
    r1 = map[stats] ll
    r2 = r10
    r2 += -4
    call bpf_map_lookup_elem
    if r0 == 0 goto drop
    lock *(u64 *)(r0 + 0) += r7
    *(u32 *)(r10 - 4) = 1
    r1 = map[stats] ll
    r2 = r10
    r2 += -4
    call bpf_map_lookup_elem
    if r0 == 0 goto drop
    r1 = 1
    lock *(u64 *)(r0 + 0) += r1
    r0 = {int(XdpAction.TX)}
    exit
drop:
    r0 = {int(XdpAction.DROP)}
    exit
"""

#: set the IPv4 TTL byte (offset 22) to 1 through direct packet access, count skb->len, TC_ACT_SHOT
TC_TTL = f"""
    r8 = *(u32 *)(r1 + 0)
    r6 = *(u32 *)(r1 + 76)
    r7 = *(u32 *)(r1 + 80)
    r2 = r6
    r2 += 23
    if r2 > r7 goto ok
    r3 = 1
    *(u8 *)(r6 + 22) = r3
    *(u32 *)(r10 - 4) = 0
    r1 = map[stats] ll
    r2 = r10
    r2 += -4
    call bpf_map_lookup_elem
    if r0 == 0 goto ok
    lock *(u64 *)(r0 + 0) += r8
    r0 = {int(TcAction.SHOT)}
    exit
ok:
    r0 = {int(TcAction.OK)}
    exit
"""

#: keep (the byte at skb offset 23, read with bpf_skb_load_bytes) + 20 bytes. BPF_PROG_TEST_RUN hands socket filters
#: the frame from its network header (eth_type_trans pulled the Ethernet header; skb offsets start at IP) and copies
#: the packet back with the 14 Ethernet bytes zeroed (bpf_prog_test_run_skb, !is_l2).
SOCKET_TRUNCATE = """
    r1 = r1
    r2 = 23
    r3 = r10
    r3 += -8
    r4 = 1
    call bpf_skb_load_bytes
    if r0 != 0 goto out
    r0 = *(u8 *)(r10 - 8)
    r0 += 20
    exit
out:
    r0 = 0
    exit
"""


def program(text: str, prog_type: ProgType):
    prog = assemble(text, maps=[STATS])
    prog.prog_type = prog_type
    return prog


@pytest.mark.parametrize("prog_type, text, expect_r0, expect_packet", [
    pytest.param(ProgType.XDP, XDP_SWAP, XdpAction.TX, lambda f: SRC + DST + f[12:], id="xdp"),
    pytest.param(ProgType.SCHED_CLS, TC_TTL, TcAction.SHOT, lambda f: f[:22] + b"\x01" + f[23:], id="sched_cls"),
    pytest.param(ProgType.SOCKET_FILTER, SOCKET_TRUNCATE, udp_frame()[ETH_HLEN + 23] + 20,
                 lambda f: bytes(ETH_HLEN) + f[ETH_HLEN:], id="socket_filter"),
])
def test_same_packet_same_result(backend: str, prog_type: ProgType, text: str,
                                 expect_r0: int, expect_packet) -> None:
    frame = udp_frame()
    with open_program(backend, program(text, prog_type)) as prog:
        prog.maps["stats"][0] = 1000
        first = prog.run(packet=frame)
        second = prog.test_run(frame)  # the kernel's name, on both sides
        for res in (first, second):
            assert res.r0 == res.retval == expect_r0
            assert res.packet == res.data == expect_packet(frame)
        stats = dict(prog.maps["stats"].items())
        if prog_type == ProgType.XDP:
            assert stats == {0: 1000 + 2 * len(frame), 1: 2}
        elif prog_type == ProgType.SCHED_CLS:
            assert stats == {0: 1000 + 2 * len(frame), 1: 0}
        else:
            assert stats == {0: 1000, 1: 0}


def skb(**values: int) -> bytearray:
    """An __sk_buff (kernel layout, pyebpf.abi.context.SK_BUFF) with the named fields set."""
    raw = bytearray(SK_BUFF.size)
    for name, value in values.items():
        f = SK_BUFF[name.replace("_", "[", 1) + "]" if name.startswith("cb_") else name]
        raw[f.offset:f.offset + f.size] = value.to_bytes(f.size, "little")
    return raw


def field(raw: bytes, name: str) -> int:
    f = SK_BUFF[name]
    return int.from_bytes(raw[f.offset:f.offset + f.size], "little")


#: mark := cb[0] + mark, cb[1] := priority, priority := 9; r0 = len
TC_CTX = """
    r2 = *(u32 *)(r1 + 8)
    r3 = *(u32 *)(r1 + 48)
    r4 = *(u32 *)(r1 + 32)
    r3 += r2
    *(u32 *)(r1 + 8) = r3
    *(u32 *)(r1 + 52) = r4
    r5 = 9
    *(u32 *)(r1 + 32) = r5
    r0 = *(u32 *)(r1 + 0)
    exit
"""


def test_skb_context_in_and_out(backend: str) -> None:
    """test_run(packet, ctx=__sk_buff): the fields the kernel takes in, and the struct it gives back, alike."""
    frame = udp_frame()
    with open_program(backend, program(TC_CTX, ProgType.SCHED_CLS)) as prog:
        res = prog.test_run(frame, ctx=bytes(skb(mark=5, priority=3, cb_0=100, cb_4=7, tstamp=1234)))
        assert res.retval == len(frame)
        out = res.ctx
        assert isinstance(out, bytes) and len(out) == SK_BUFF.size
        assert [field(out, n) for n in ("mark", "priority", "cb[0]", "cb[1]", "cb[4]", "tstamp")] == \
            [105, 9, 100, 3, 7, 1234]
        assert (field(out, "ifindex"), field(out, "wire_len"), field(out, "len")) == (1, len(frame), 0)
        res = prog.test_run(frame, ctx=bytes(skb(ingress_ifindex=3, gso_segs=2, gso_size=100, hwtstamp=77,
                                                 wire_len=200)))
        assert [field(res.ctx, n) for n in ("ingress_ifindex", "gso_segs", "gso_size", "hwtstamp", "wire_len")] == \
            [3, 2, 100, 77, 200]
        with pytest.raises((LoaderError, VmError)):
            prog.test_run(frame, ctx=bytes(skb(len=3)))  # a field test runs do not take (the kernel: EINVAL)
