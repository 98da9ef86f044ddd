"""The Python probes benchmarks/compiler.py compiles; compiler_c/<name>.bpf.c is the same program in C."""
import ctypes

from pyebpf.probe import (XDP_DROP, XDP_PASS, Array, HashMap, LinearHistogram, PerfEventArray, RingBuf, comm,
                          noinline, pid, probe, tid, u32, u64)
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


TARGET = 4242
parents = Array(u64, max_entries=1)


@probe("raw_tp/sched_switch")
def task_fields(ctx):
    if ctx.prev.tgid == TARGET:      # struct task_struct * from the kernel's BTF, read with probe_read
        parents[0] = ctx.prev.real_parent.tgid
    return 0


class Pending(ctypes.Structure):
    _fields_ = [("tpid", ctypes.c_int32), ("sig", ctypes.c_int32)]


class KillEvent(ctypes.Structure):
    _fields_ = [("pid", ctypes.c_uint32), ("tpid", ctypes.c_int32), ("sig", ctypes.c_int32),
                ("ret", ctypes.c_int32), ("comm", ctypes.c_char * 16)]


pending = HashMap(u32, Pending, max_entries=10240)
kills = PerfEventArray(KillEvent)


@probe("tracepoint/syscalls/sys_exit_kill")
def kill_exit(ctx):
    t = tid()
    if t in pending:
        kills.output(KillEvent(pid=pid(), tpid=pending[t].tpid, sig=pending[t].sig, ret=ctx.ret, comm=comm()))
        del pending[t]
    return 0


lin = LinearHistogram(0, 1000, 50)


@probe("raw_tp/sys_enter")
def lhist(ctx):
    lin.record(ctx.args[1])
    return 0


@noinline
def mix(a: u64, b: u64) -> u64:
    x = a * 31 + b
    return x ^ (x >> 7)


mixed = Array(u64, max_entries=2)


@probe("raw_tp/sys_enter")
def subprog(ctx):
    mixed[0] = mix(ctx.args[0], ctx.args[1])
    mixed[1] = mix(ctx.args[1], ctx.args[0])
    return 0


PROBES = [count_openat, count_by_proc, opensnoop, xdp_udp_drop, arith, task_fields, kill_exit, lhist, subprog]
