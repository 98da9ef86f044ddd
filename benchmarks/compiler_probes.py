"""The Python probes benchmarks/compiler.py compiles; compiler_c/<name>.bpf.c is the same program in C."""
import ctypes

from pyebpf.probe import (XDP_DROP, XDP_PASS, Array, HashMap, RingBuf, comm, pid, probe, u32, u64)
from pyebpf.probe.headers import Eth, IPv4, Udp

counts = HashMap(u32, u64, max_entries=10240)


@probe("tracepoint/syscalls/sys_enter_openat")
def count_openat(ctx):
    counts[pid()] += 1


class Proc(ctypes.Structure):
    _fields_ = [("pid", ctypes.c_uint32), ("comm", ctypes.c_char * 16)]


by_proc = HashMap(Proc, u64, max_entries=10240)


@probe("tracepoint/syscalls/sys_enter_openat")
def count_by_proc(ctx):
    by_proc[Proc(pid(), comm())] += 1


class OpenEvent(ctypes.Structure):
    _fields_ = [("pid", ctypes.c_uint32), ("flags", ctypes.c_uint32), ("comm", ctypes.c_char * 16),
                ("filename", ctypes.c_char * 128)]


events = RingBuf(OpenEvent, size=1 << 20)


@probe("tracepoint/syscalls/sys_enter_openat")
def opensnoop(ctx):
    events.output(OpenEvent(pid=pid(), flags=ctx.flags, comm=comm(), filename=str(ctx.filename)))


drops = Array(u64, max_entries=1)


@probe("xdp")
def xdp_udp_drop(ctx):
    eth = ctx.header(Eth)
    if eth.proto != 0x0800:
        return XDP_PASS
    ip = ctx.header(IPv4, 14)
    if ip.proto != 17:
        return XDP_PASS
    udp = ctx.header(Udp, 14 + (ip.ver_ihl & 0xF) * 4)
    if udp.dport == 9999:
        drops[0] += 1
        return XDP_DROP
    return XDP_PASS


lat = HashMap(u32, u64, max_entries=64)


@probe("raw_tp/sys_enter")
def arith(ctx):
    a = u64(ctx.args[0])
    b = u32(ctx.args[1])
    slot = 0
    v = a
    while v > 1 and slot < 63:
        v >>= 1
        slot += 1
    lat[slot] += (a * 3 + b) // 7
    return 0


PROBES = [count_openat, count_by_proc, opensnoop, xdp_udp_drop, arith]
