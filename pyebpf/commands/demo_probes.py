"""The probes `pyebpf demo` starts with: eBPF written in Python, compiled by pyebpf (no clang, no LLVM).

A real module (not strings) because the compiler reads a probe's source with `inspect`, as it does for users.
"""
import ctypes

from pyebpf.probe import XDP_DROP, XDP_PASS, Array, HashMap, comm, pid, probe, u64


class Proc(ctypes.Structure):
    _fields_ = [("pid", ctypes.c_uint32), ("comm", ctypes.c_char * 16)]


opens = HashMap(Proc, u64, max_entries=10240)


@probe("tracepoint/syscalls/sys_enter_openat")
def count_openat(ctx):
    opens[Proc(pid(), comm())] += 1


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


stats = Array(u64, max_entries=2)  # 0: other packets, 1: IPv4


@probe("xdp")
def drop_discard(ctx):
    eth = ctx.header(Eth)
    if eth.proto != 0x0800:
        stats[0] += 1
        return XDP_PASS
    stats[1] += 1
    ip = ctx.header(IPv4, 14)
    if ip.proto == 17:
        udp = ctx.header(Udp, 14 + (ip.ver_ihl & 0xF) * 4)
        if udp.dport == 9:  # the discard port
            return XDP_DROP
    return XDP_PASS
