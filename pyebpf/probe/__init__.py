"""Probes in Python: write the probe as a Python function, pyebpf compiles it to eBPF (no clang, no LLVM).

    from pyebpf.probe import probe, HashMap, u32, u64, pid

    counts = HashMap(u32, u64, max_entries=10240)

    @probe("tracepoint/syscalls/sys_enter_openat")
    def count_openat(ctx):
        counts[pid()] += 1

    count_openat.run()                    # in the VM
    with count_openat.load():             # our verifier, then the kernel; attached by the section name
        time.sleep(5)
    print(counts.items())

The language is documented in docs/probes.md; the compiler is pyebpf.compiler.
"""
from __future__ import annotations

from pyebpf.abi.uapi import TcAction, XdpAction
from pyebpf.compiler.types import S8, S16, S32, S64, U8, U16, U32, U64
from pyebpf.probe.intrinsics import (
    cgroup_id, comm, cpu, current_task, gid, kptr, kstr, ktime_ns, log2, loop, noinline, pid, printk, random, tgid,
    tid, uid,
)
from pyebpf.probe.maps import (
    Array, HashMap, LinearHistogram, Log2Histogram, LpmTrie, LruHashMap, PerCpuArray, PerCpuHashMap,
    PerfEventArray, ProbeMap, ProgArray, RingBuf, StackTrace,
)
from pyebpf.probe.probe import LoadedProbe, Probe, load_all, probe

u8, u16, u32, u64, s8, s16, s32, s64 = U8, U16, U32, U64, S8, S16, S32, S64
XDP_ABORTED, XDP_DROP, XDP_PASS, XDP_TX, XDP_REDIRECT = (int(a) for a in (
    XdpAction.ABORTED, XdpAction.DROP, XdpAction.PASS, XdpAction.TX, XdpAction.REDIRECT))
TC_ACT_OK, TC_ACT_SHOT = int(TcAction.OK), int(TcAction.SHOT)

__all__ = [
    "probe", "Probe", "LoadedProbe", "load_all", "HashMap", "LruHashMap", "PerCpuHashMap", "Array", "PerCpuArray",
    "RingBuf", "StackTrace", "Log2Histogram", "LinearHistogram", "PerfEventArray", "ProgArray", "LpmTrie",
    "ProbeMap", "noinline", "loop", "log2", "u8", "u16", "u32", "u64", "s8", "s16", "s32", "s64", "pid", "tgid",
    "tid", "uid", "gid", "comm", "ktime_ns", "cpu", "random", "current_task", "cgroup_id", "kstr", "kptr",
    "printk", "XDP_ABORTED", "XDP_DROP", "XDP_PASS", "XDP_TX", "XDP_REDIRECT", "TC_ACT_OK", "TC_ACT_SHOT",
]
