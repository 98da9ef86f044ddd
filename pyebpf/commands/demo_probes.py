"""The probes `pyebpf demo` starts with: eBPF written in Python, compiled by pyebpf (no clang, no LLVM).

A real module (not strings) because the compiler reads a probe's source with `inspect`, as it does for users.
"""
import ctypes

from pyebpf.probe import XDP_DROP, XDP_PASS, Array, HashMap, comm, pid, probe, u64
from pyebpf.probe.headers import ETH_P_IP, IPPROTO_UDP, Eth, IPv4, Udp


class Proc(ctypes.Structure):
    _fields_ = [("pid", ctypes.c_uint32), ("comm", ctypes.c_char * 16)]


opens = HashMap(Proc, u64, max_entries=10240)


@probe("tracepoint/syscalls/sys_enter_openat")
def count_openat(ctx):
    opens[Proc(pid(), comm())] += 1


stats = Array(u64, max_entries=2)  # 0: other packets, 1: IPv4


@probe("xdp")
def drop_discard(ctx):
    eth = ctx.header(Eth)
    if eth.proto != ETH_P_IP:
        stats[0] += 1
        return XDP_PASS
    stats[1] += 1
    ip = ctx.header(IPv4, 14)
    if ip.proto == IPPROTO_UDP:
        udp = ctx.header(Udp, 14 + (ip.ver_ihl & 0xF) * 4)
        if udp.dport == 9:  # the discard port
            return XDP_DROP
    return XDP_PASS
