"""hypothesis strategies for the INPUTS of eBPF programs: packets, packet contexts, tracepoint records, pt_regs.

Packets are built layer by layer (Ethernet, optional 802.1Q tag, IPv4 or IPv6, UDP or TCP) with correct lengths and
checksums, so a parser sees realistic traffic; `corrupted()` then breaks them the ways real traffic breaks (cut
short anywhere, a flipped bit, a header length or version that lies, a wrong checksum), because the interesting
bugs of packet parsers live at the bounds checks.

    from pyebpf.testing.inputs import packets, xdp_contexts

    @given(packets())                      # valid and corrupted Ethernet frames, and plain garbage
    def test_parser(pkt): ...

Strategies that produce contexts return *context builders* of `pyebpf.vm.context` (fresh objects per example):
`XdpContext`, `SkbContext`, `SysEnterContext`, `KprobeContext`. `pyebpf.testing.differential` turns the packet ones
into BPF_PROG_TEST_RUN input, so the same drawn value feeds the VM and the kernel.
"""
from __future__ import annotations

import struct
from enum import IntEnum
from typing import Any

from hypothesis import strategies as st

from pyebpf.abi.net import ETH_HLEN, VLAN_HLEN, EtherType

S = st.SearchStrategy


class IpProto(IntEnum):
    """in.h IPPROTO_* values the strategies draw."""

    ICMP = 1
    TCP = 6
    UDP = 17
    ICMPV6 = 58


IPV4_MIN_HLEN = 20
IPV6_HLEN = 40
UDP_HLEN = 8
TCP_MIN_HLEN = 20
ETH_MAX_FRAME = 1514
"""A frame of at most an Ethernet MTU keeps every drawn packet inside one XDP frame (4096 - 256 - 320 bytes)."""


# ---- building layers (plain functions: usable without hypothesis) ---------------------------------------------------

def inet_checksum(data: bytes) -> int:
    """RFC 1071 one's-complement sum of 16-bit words (odd length padded with a zero byte)."""
    if len(data) % 2:
        data += b"\0"
    total = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


# Builders take keyword arguments only, always in one order: addresses (src, dst), then ports / protocol, then the
# payload; a call written for another builder's order fails loudly instead of swapping fields.
def ethernet(*, src: bytes, dst: bytes, ethertype: int, payload: bytes = b"", vlan: int | None = None) -> bytes:
    """An Ethernet II frame (on the wire dst comes first); with `vlan` (a TCI) an 802.1Q tag sits before the
    ethertype."""
    tag = struct.pack("!HH", EtherType.VLAN, vlan) if vlan is not None else b""
    return dst + src + tag + struct.pack("!H", ethertype) + payload


def ipv4(*, src: bytes, dst: bytes, proto: int, payload: bytes = b"", ttl: int = 64, ident: int = 0, tos: int = 0,
         options: bytes = b"", flags_frag: int = 0x4000) -> bytes:
    """An IPv4 header (with options padded to 4 bytes, correct total length and header checksum) + payload."""
    options = options.ljust((len(options) + 3) // 4 * 4, b"\0")
    ihl = (IPV4_MIN_HLEN + len(options)) // 4
    hdr = struct.pack("!BBHHHBBH4s4s", 0x40 | ihl, tos, ihl * 4 + len(payload), ident, flags_frag, ttl, proto, 0,
                      src, dst) + options
    return hdr[:10] + struct.pack("!H", inet_checksum(hdr)) + hdr[12:] + payload


def ipv6(*, src: bytes, dst: bytes, next_header: int, payload: bytes = b"", hop_limit: int = 64,
         flow: int = 0) -> bytes:
    """An IPv6 header (no extension headers) + payload."""
    return struct.pack("!IHBB16s16s", (6 << 28) | (flow & 0xFFFFF), len(payload), next_header, hop_limit, src,
                       dst) + payload


def _pseudo_header(src: bytes, dst: bytes, proto: int, length: int) -> bytes:
    if len(src) == 4:
        return src + dst + struct.pack("!BBH", 0, proto, length)
    return src + dst + struct.pack("!IxxxB", length, proto)


def udp(*, src: bytes, dst: bytes, sport: int, dport: int, payload: bytes = b"") -> bytes:
    """A UDP datagram whose checksum covers the IPv4/IPv6 pseudo-header of src -> dst."""
    length = UDP_HLEN + len(payload)
    seg = struct.pack("!HHHH", sport, dport, length, 0) + payload
    csum = inet_checksum(_pseudo_header(src, dst, IpProto.UDP, length) + seg) or 0xFFFF
    return seg[:6] + struct.pack("!H", csum) + seg[8:]


def tcp(*, src: bytes, dst: bytes, sport: int, dport: int, payload: bytes = b"", seq: int = 0, ack: int = 0,
        flags: int = 0x02, window: int = 65535, options: bytes = b"") -> bytes:
    """A TCP segment (options padded to 4 bytes) whose checksum covers the pseudo-header of src -> dst."""
    options = options.ljust((len(options) + 3) // 4 * 4, b"\0")
    doff = (TCP_MIN_HLEN + len(options)) // 4
    seg = struct.pack("!HHIIBBHHH", sport, dport, seq, ack, doff << 4, flags, window, 0, 0) + options + payload
    csum = inet_checksum(_pseudo_header(src, dst, IpProto.TCP, len(seg)) + seg)
    return seg[:16] + struct.pack("!H", csum) + seg[18:]


# ---- strategies for fields: functions returning strategies, like every strategy in pyebpf.testing ----------------

_MACS = st.binary(min_size=6, max_size=6)
_IPV4S = st.one_of(st.binary(min_size=4, max_size=4),
                   st.sampled_from([bytes([192, 0, 2, 1]), bytes([198, 51, 100, 7]), bytes([127, 0, 0, 1]), bytes(4),
                                    b"\xff" * 4]))
_IPV6S = st.one_of(st.binary(min_size=16, max_size=16),
                   st.sampled_from([bytes.fromhex("20010db8" + "00" * 11 + "01"), bytes(15) + b"\x01"]))
_PORTS = st.one_of(st.integers(0, 65535), st.sampled_from([0, 22, 53, 80, 443, 8080, 65535]))


def mac_addresses() -> S:
    """A 6-byte MAC address."""
    return _MACS


def ipv4_addresses() -> S:
    """A 4-byte IPv4 address (network order), special ones (0.0.0.0, broadcast, loopback, doc ranges) drawn often."""
    return _IPV4S


def ipv6_addresses() -> S:
    """A 16-byte IPv6 address, a documentation address and ::1 drawn often."""
    return _IPV6S


def ports() -> S:
    """A TCP/UDP port, well-known ones and the edges drawn often."""
    return _PORTS


def payloads(max_size: int = 64) -> S:
    """Opaque payload bytes."""
    return st.binary(max_size=max_size)


@st.composite
def udp_segments(draw: Any, src: bytes, dst: bytes) -> bytes:
    return udp(src=src, dst=dst, sport=draw(ports()), dport=draw(ports()), payload=draw(payloads()))


@st.composite
def tcp_segments(draw: Any, src: bytes, dst: bytes) -> bytes:
    return tcp(src=src, dst=dst, sport=draw(ports()), dport=draw(ports()), payload=draw(payloads()),
               seq=draw(st.integers(0, 2**32 - 1)),
               ack=draw(st.integers(0, 2**32 - 1)), flags=draw(st.integers(0, 0xFF)),
               options=draw(st.binary(max_size=40)))


def _l4(draw: Any, proto: int, src: bytes, dst: bytes) -> bytes:
    if proto == IpProto.UDP:
        return draw(udp_segments(src, dst))
    if proto == IpProto.TCP:
        return draw(tcp_segments(src, dst))
    return draw(payloads())


@st.composite
def ipv4_packets(draw: Any, protocols: tuple[int, ...] = (IpProto.UDP, IpProto.TCP, IpProto.ICMP)) -> bytes:
    """An IPv4 packet (no Ethernet header) carrying UDP, TCP or opaque bytes, options sometimes present."""
    src, dst = draw(ipv4_addresses()), draw(ipv4_addresses())
    proto = draw(st.sampled_from(protocols))
    return ipv4(src=src, dst=dst, proto=proto, payload=_l4(draw, proto, src, dst), ttl=draw(st.integers(0, 255)),
                ident=draw(st.integers(0, 65535)), options=draw(st.one_of(st.just(b""), st.binary(max_size=40))))


@st.composite
def ipv6_packets(draw: Any, protocols: tuple[int, ...] = (IpProto.UDP, IpProto.TCP, IpProto.ICMPV6)) -> bytes:
    """An IPv6 packet (no Ethernet header, no extension headers) carrying UDP, TCP or opaque bytes."""
    src, dst = draw(ipv6_addresses()), draw(ipv6_addresses())
    proto = draw(st.sampled_from(protocols))
    return ipv6(src=src, dst=dst, next_header=proto, payload=_l4(draw, proto, src, dst),
                hop_limit=draw(st.integers(0, 255)))


@st.composite
def ethernet_frames(draw: Any, l3: tuple[str, ...] = ("ipv4", "ipv6", "other"), vlan: bool = True) -> bytes:
    """A well-formed Ethernet frame: IPv4 or IPv6 (with UDP/TCP/other inside), or another ethertype with bytes."""
    kind = draw(st.sampled_from(l3))
    if kind == "ipv4":
        ethertype, payload = EtherType.IP, draw(ipv4_packets())
    elif kind == "ipv6":
        ethertype, payload = EtherType.IPV6, draw(ipv6_packets())
    else:
        ethertype = draw(st.one_of(st.sampled_from([EtherType.ARP, 0x88CC, 0x0000]), st.integers(0, 0xFFFF)))
        payload = draw(st.binary(max_size=64))
    tag = draw(st.one_of(st.none(), st.integers(0, 0xFFFF))) if vlan else None
    dst, src = draw(mac_addresses()), draw(mac_addresses())
    return ethernet(src=src, dst=dst, ethertype=ethertype, payload=payload, vlan=tag)[:ETH_MAX_FRAME]


# ---- corruption -----------------------------------------------------------------------------------------------------

def _l3_offset(frame: bytes) -> int:
    return ETH_HLEN + VLAN_HLEN if frame[12:14] == struct.pack("!H", EtherType.VLAN) else ETH_HLEN


def _set_byte(frame: bytes, at: int, value: int) -> bytes:
    if at >= len(frame):
        return frame
    return frame[:at] + bytes([value & 0xFF]) + frame[at + 1:]


@st.composite
def corrupted(draw: Any, frames: S | None = None) -> bytes:
    """A frame from `frames` (default `ethernet_frames()`) broken in one of the ways parsers must survive:
    truncated anywhere (also inside the Ethernet header), one bit flipped, the IPv4 IHL / IPv6 payload length /
    IP total length / version nibble / TCP data offset lying, or the IPv4 checksum wrong."""
    frame = draw(frames if frames is not None else ethernet_frames())
    l3 = _l3_offset(frame)
    how = draw(st.sampled_from(["truncate", "bitflip", "ihl", "version", "ip_len", "doff", "csum"]))
    if how == "truncate" or len(frame) <= l3:
        return frame[:draw(st.integers(0, max(len(frame) - 1, 0)))]
    if how == "bitflip":
        at = draw(st.integers(0, len(frame) - 1))
        return _set_byte(frame, at, frame[at] ^ (1 << draw(st.integers(0, 7))))
    version = frame[l3] >> 4
    if how == "ihl":
        return _set_byte(frame, l3, (frame[l3] & 0xF0) | draw(st.integers(0, 15)))
    if how == "version":
        return _set_byte(frame, l3, (draw(st.integers(0, 15)) << 4) | (frame[l3] & 0x0F))
    if how == "ip_len":
        at = l3 + (2 if version == 4 else 4)
        value = draw(st.integers(0, 0xFFFF))
        return frame[:at] + struct.pack("!H", value) + frame[at + 2:] if at + 2 <= len(frame) else frame
    if how == "doff":
        ihl = (frame[l3] & 0x0F) * 4 if version == 4 else IPV6_HLEN
        return _set_byte(frame, l3 + ihl + 12, draw(st.integers(0, 15)) << 4)
    at = l3 + 10                                                   # IPv4 header checksum
    return _set_byte(frame, at, frame[at] ^ 0xFF) if version == 4 and at < len(frame) else frame


def packets(valid: bool | None = None, garbage: bool = True) -> S:
    """Ethernet frames for packet programs: `valid=True` only well-formed ones, `False` only corrupted ones,
    None (default) both, plus (with `garbage`) arbitrary bytes of 0..128 — the empty packet included."""
    parts: list[S] = []
    if valid is not False:
        parts.append(ethernet_frames())
    if valid is not True:
        parts.append(corrupted())
    if garbage and valid is None:
        parts.append(st.binary(max_size=128))
    return st.one_of(*parts)


# ---- contexts -------------------------------------------------------------------------------------------------------

@st.composite
def xdp_contexts(draw: Any, packet: S | None = None) -> Any:
    """`XdpContext` around a drawn packet; ingress_ifindex 1 (lo, as BPF_PROG_TEST_RUN without a context),
    rx_queue_index 0 — the values the kernel accepts for a test run in any network namespace."""
    from pyebpf.vm.context import XdpContext

    return XdpContext(draw(packet if packet is not None else packets()), ingress_ifindex=1, rx_queue_index=0)


SKB_TEST_RUN_FIELDS = ("mark", "priority", "tstamp", "gso_segs", "gso_size", "cb")
"""__sk_buff fields BPF_PROG_TEST_RUN lets a caller set (convert___skb_to_skb refuses others as EINVAL)."""


@st.composite
def skb_contexts(draw: Any, packet: S | None = None, prog_type: Any = "sched_cls") -> Any:
    """`SkbContext` around a drawn packet with the settable fields drawn (mark, priority, cb[], tstamp, gso)."""
    from pyebpf.abi.prog_types import ProgType, parse_prog_type
    from pyebpf.vm.context import SkbContext

    pt = parse_prog_type(prog_type) if isinstance(prog_type, str) else ProgType(prog_type)
    pkt = draw(packet if packet is not None else packets())
    u32 = st.one_of(st.integers(0, 2**32 - 1), st.sampled_from([0, 1, 0xFFFFFFFF]))
    fields = draw(st.fixed_dictionaries({}, optional={
        "mark": u32, "priority": u32, "cb": st.lists(u32, min_size=5, max_size=5),
        "tstamp": st.integers(0, 2**63 - 1), "gso_segs": st.integers(0, 64), "gso_size": st.integers(0, 9000)}))
    return SkbContext(pkt, pt, **fields)


# Syscall numbers (x86-64) worth drawing more often than the rest: a filter on one of them sees both cases.
_SYSCALLS = [0, 1, 2, 3, 9, 39, 57, 59, 60, 231, 257]


@st.composite
def syscall_args(draw: Any, syscall: int | None = None, pid: S | None = None) -> Any:
    """`SysEnterContext` (struct trace_event_raw_sys_enter): syscall number, 6 u64 args, the trace_entry pid."""
    from pyebpf.vm.context import SysEnterContext

    nr = syscall if syscall is not None else draw(st.one_of(st.sampled_from(_SYSCALLS), st.integers(0, 460)))
    args = draw(st.lists(st.one_of(st.integers(0, 2**64 - 1), st.integers(0, 4096)), min_size=6, max_size=6))
    return SysEnterContext(nr, args, pid=draw(pid if pid is not None else st.integers(0, 4_194_304)))


@st.composite
def raw_tp_args(draw: Any, count: int | None = None) -> Any:
    """`RawTracepointContext`: `count` (default 1..12) u64 args, as BPF_PROG_TEST_RUN also accepts them."""
    from pyebpf.abi.context import MAX_BPF_FUNC_ARGS
    from pyebpf.vm.context import RawTracepointContext

    n = count if count is not None else draw(st.integers(1, MAX_BPF_FUNC_ARGS))
    return RawTracepointContext(draw(st.lists(st.integers(0, 2**64 - 1), min_size=n, max_size=n)))


PT_REGS_NAMES = ("r15", "r14", "r13", "r12", "bp", "bx", "r11", "r10", "r9", "r8", "ax", "cx", "dx", "si", "di",
                 "orig_ax", "ip", "cs", "flags", "sp", "ss")


@st.composite
def pt_regs(draw: Any, **fixed: int) -> Any:
    """`KprobeContext` (x86-64 struct pt_regs) with every register drawn; keywords pin some ("di"=..., "arg2"=...)."""
    from pyebpf.vm.context import KprobeContext

    regs = {name: draw(st.integers(0, 2**64 - 1)) for name in PT_REGS_NAMES}
    return KprobeContext(regs, **fixed)


__all__ = ["EtherType", "IpProto", "inet_checksum", "ethernet", "ipv4", "ipv6", "udp", "tcp", "mac_addresses",
           "ipv4_addresses", "ipv6_addresses", "ports", "payloads", "udp_segments", "tcp_segments", "ipv4_packets",
           "ipv6_packets", "ethernet_frames", "corrupted", "packets", "xdp_contexts", "skb_contexts",
           "SKB_TEST_RUN_FIELDS", "syscall_args", "raw_tp_args", "pt_regs", "PT_REGS_NAMES"]
