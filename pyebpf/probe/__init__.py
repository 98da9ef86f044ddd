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

import sys
import types

from pyebpf._lazy import lazy_exports
from pyebpf.abi.uapi import TcAction, XdpAction

# names resolve on first use: importing a light submodule (pyebpf.probe.output, which `pyebpf trace` prints with)
# does not import the compiler
_LAZY = {name: "pyebpf.probe.intrinsics" for name in (
    "cgroup_id", "comm", "cpu", "current_task", "gid", "kptr", "kstr", "ktime_ns", "log2", "loop", "noinline", "pid",
    "printk", "random", "tgid", "tid", "uid")}
_LAZY.update({name: "pyebpf.probe.maps" for name in (
    "Array", "HashMap", "LinearHistogram", "Log2Histogram", "LpmTrie", "LruHashMap", "PerCpuArray", "PerCpuHashMap",
    "PerfEventArray", "ProbeMap", "ProgArray", "RingBuf", "StackTrace")})
_LAZY.update({name: "pyebpf.probe.probe" for name in ("LoadedProbe", "Probe", "load_all", "probe")})
_LAZY.update({name: f"pyebpf.compiler.types:{name.upper()}" for name in ("u8", "u16", "u32", "u64", "s8", "s16", "s32",
                                                                       "s64")})
_LAZY.update({name.upper(): f"pyebpf.compiler.types:{name.upper()}" for name in ("u8", "u16", "u32", "u64", "s8",
                                                                                 "s16", "s32", "s64")})
__getattr__, __dir__ = lazy_exports(__name__, _LAZY)


class _Package(types.ModuleType):
    """`pyebpf.probe.probe` is the decorator, as when it was imported eagerly: the import system's binding of the
    submodule of the same name to this attribute (at its first import) is ignored."""

    def __setattr__(self, name: str, value: object) -> None:
        if name == "probe" and isinstance(value, types.ModuleType):
            return
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package

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
