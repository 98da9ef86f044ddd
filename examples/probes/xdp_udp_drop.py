"""Drop UDP packets to one port at XDP, counting them: `pyebpf probe examples/probes/xdp_udp_drop.py` needs an
attach target, so this one is used as a module (see tests/probe/test_probe_packets.py) or with `pyebpf load`.

Headers are ctypes.BigEndianStructure classes: fields read in host order; `ctx.header(T, offset)` generates the
bounds check the verifier needs (a packet too short for the header lets the packet pass).
"""
import ctypes

from pyebpf.probe import XDP_DROP, XDP_PASS, Array, probe, u64

DROP_PORT = 9999


class Eth(ctypes.BigEndianStructure):
    _pack_ = 1
    _fields_ = [("dst", ctypes.c_uint8 * 6), ("src", ctypes.c_uint8 * 6), ("proto", ctypes.c_uint16)]


class IPv4(ctypes.BigEndianStructure):
    _pack_ = 1
    _fields_ = [("ver_ihl", ctypes.c_uint8), ("tos", ctypes.c_uint8), ("tot_len", ctypes.c_uint16),
                ("id", ctypes.c_uint16), ("frag", ctypes.c_uint16), ("ttl", ctypes.c_uint8),
                ("proto", ctypes.c_uint8), ("csum", ctypes.c_uint16), ("src", ctypes.c_uint32),
                ("dst", ctypes.c_uint32)]


class Udp(ctypes.BigEndianStructure):
    _pack_ = 1
    _fields_ = [("sport", ctypes.c_uint16), ("dport", ctypes.c_uint16), ("len", ctypes.c_uint16),
                ("csum", ctypes.c_uint16)]


drops = Array(u64, max_entries=1)


@probe("xdp")
def drop_udp_port(ctx):
    eth = ctx.header(Eth)
    if eth.proto != 0x0800:
        return XDP_PASS
    ip = ctx.header(IPv4, 14)
    if ip.proto != 17:
        return XDP_PASS
    udp = ctx.header(Udp, 14 + (ip.ver_ihl & 0xF) * 4)
    if udp.dport == DROP_PORT:
        drops[0] += 1
        return XDP_DROP
    return XDP_PASS
