"""An XDP parser used by the testing-kit tests: Ethernet (optional 802.1Q tag), IPv4 (any IHL) or IPv6, then UDP
or TCP. It drops UDP to the discard port (9) and TCP segments with both SYN and FIN set, passes everything else, and
counts per class in an array map. `expected_verdict()` is the same policy written in Python, the oracle.
"""
from __future__ import annotations

import ctypes
import struct

from pyebpf.abi.uapi import XdpAction
from pyebpf.isa.builder import R0, R1, R2, R3, R4, R5, R6, R7, R8, R9, R10, Builder
from pyebpf.testing.inputs import EtherType, IpProto

DISCARD_PORT = 9
TCP_SYN, TCP_FIN = 0x02, 0x01
STAT_IPV4, STAT_IPV6, STAT_OTHER, STAT_DROPPED = range(4)


def _htons(v: int) -> int:
    return int.from_bytes(v.to_bytes(2, "big"), "little")


def build(bounds_check_l4: bool = True):
    """The parser; bounds_check_l4=False leaves out the check before reading the L4 header (a bug to be found)."""
    b = Builder("xdp", name="parse")
    b.map("stats", "array", ctypes.c_uint32, ctypes.c_uint64, 4)
    b.mov(R6, R1)
    b.load(R2, R6 + 0, "u32").load(R3, R6 + 4, "u32")          # data, data_end
    b.mov(R9, STAT_OTHER)                                       # stats slot
    b.mov(R0, XdpAction.PASS)
    b.mov(R4, R2).add(R4, 14)
    b.jump_if(R4 > R3, "count")
    b.load(R5, R2 + 12, "u16")
    b.mov(R8, R2).add(R8, 14)                                   # r8: L3 header
    with b.if_(R5 == _htons(EtherType.VLAN)):
        b.mov(R4, R2).add(R4, 18)
        b.jump_if(R4 > R3, "count")
        b.load(R5, R2 + 16, "u16")
        b.mov(R8, R2).add(R8, 18)
    with b.if_(R5 == _htons(EtherType.IP)):
        b.mov(R4, R8).add(R4, 20)
        b.jump_if(R4 > R3, "count")
        b.load(R4, R8 + 0, "u8")
        b.mov(R5, R4).rsh(R5, 4)
        b.jump_if(R5 != 4, "count")
        b.and_(R4, 0x0F).lsh(R4, 2)                              # IHL in bytes, 0..60
        b.jump_if(R4 < 20, "count")
        b.mov(R9, STAT_IPV4)
        b.load(R7, R8 + 9, "u8")                                 # protocol
        b.add(R8, R4)
        b.ja("l4")
    with b.if_(R5 == _htons(EtherType.IPV6)):
        b.mov(R4, R8).add(R4, 40)
        b.jump_if(R4 > R3, "count")
        b.mov(R9, STAT_IPV6)
        b.load(R7, R8 + 6, "u8")                                 # next header
        b.add(R8, 40)
        b.ja("l4")
    b.ja("count")
    b.label("l4")                                               # r7 = protocol, r8 = L4 header
    if bounds_check_l4:
        b.mov(R4, R8).add(R4, 8)
        b.jump_if(R4 > R3, "count")
    with b.if_(R7 == IpProto.UDP):
        b.load(R5, R8 + 2, "u16")
        with b.if_(R5 == _htons(DISCARD_PORT)):
            b.mov(R0, XdpAction.DROP).mov(R9, STAT_DROPPED)
        b.ja("count")
    with b.if_(R7 == IpProto.TCP):
        b.mov(R4, R8).add(R4, 20)
        b.jump_if(R4 > R3, "count")
        b.load(R5, R8 + 13, "u8").and_(R5, TCP_SYN | TCP_FIN)
        with b.if_(R5 == TCP_SYN | TCP_FIN):
            b.mov(R0, XdpAction.DROP).mov(R9, STAT_DROPPED)
    b.label("count")                                            # stats[r9] += 1, return r0
    b.mov(R6, R0)
    b.store(R10 - 4, R9, "u32")
    b.mov(R2, R10).add(R2, -4).ld_map(R1, "stats").call("map_lookup_elem")
    with b.if_(R0 != 0):
        b.mov(R1, 1).atomic_add(R0 + 0, R1)
    b.mov(R0, R6)
    return b.exit().build()


def expected_verdict(pkt: bytes) -> tuple[XdpAction, int]:
    """The parser's policy in Python: (verdict, stats slot)."""
    if len(pkt) < 14:
        return XdpAction.PASS, STAT_OTHER
    ethertype, l3 = struct.unpack_from("!H", pkt, 12)[0], 14
    if ethertype == EtherType.VLAN:
        if len(pkt) < 18:
            return XdpAction.PASS, STAT_OTHER
        ethertype, l3 = struct.unpack_from("!H", pkt, 16)[0], 18
    if ethertype == EtherType.IP:
        if len(pkt) < l3 + 20 or pkt[l3] >> 4 != 4 or (pkt[l3] & 0x0F) * 4 < 20:
            return XdpAction.PASS, STAT_OTHER
        slot, proto, l4 = STAT_IPV4, pkt[l3 + 9], l3 + (pkt[l3] & 0x0F) * 4
    elif ethertype == EtherType.IPV6:
        if len(pkt) < l3 + 40:
            return XdpAction.PASS, STAT_OTHER
        slot, proto, l4 = STAT_IPV6, pkt[l3 + 6], l3 + 40
    else:
        return XdpAction.PASS, STAT_OTHER
    if len(pkt) < l4 + 8:
        return XdpAction.PASS, slot
    if proto == IpProto.UDP and struct.unpack_from("!H", pkt, l4 + 2)[0] == DISCARD_PORT:
        return XdpAction.DROP, STAT_DROPPED
    if proto == IpProto.TCP and len(pkt) >= l4 + 20 and pkt[l4 + 13] & 3 == 3:
        return XdpAction.DROP, STAT_DROPPED
    return XdpAction.PASS, slot
