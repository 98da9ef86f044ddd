"""The helper functions a probe calls (pid(), comm(), printk(...), ...).

Each is a real Python function marked with `__probe_intrinsic__`; the compiler recognises the mark and emits the
helper call. Called from plain Python (outside a probe) they say so instead of returning a made-up value.
"""
from __future__ import annotations

from typing import Any, Callable

from pyebpf.errors import CompileError


def _intrinsic(name: str, doc: str) -> Callable[..., Any]:
    def fn(*args: Any, **kw: Any) -> Any:
        raise CompileError(f"{name}() only has a meaning inside a probe (compiled to eBPF)",
                           hint="call it in a function decorated with @probe(...)")

    fn.__name__ = fn.__qualname__ = name
    fn.__doc__ = doc
    fn.__probe_intrinsic__ = name  # type: ignore[attr-defined]
    return fn


pid = _intrinsic("pid", "The current process id (the thread group id, what `ps` shows as PID), u32.")
tgid = _intrinsic("tgid", "Same as pid(): the thread group id, u32.")
tid = _intrinsic("tid", "The current thread id, u32.")
uid = _intrinsic("uid", "The current user id, u32.")
gid = _intrinsic("gid", "The current group id, u32.")
comm = _intrinsic("comm", "The current task's command name: 16 bytes, NUL-padded.")
ktime_ns = _intrinsic("ktime_ns", "CLOCK_MONOTONIC in nanoseconds, u64.")
cpu = _intrinsic("cpu", "The CPU the probe runs on, u32.")
random = _intrinsic("random", "A pseudo-random u32 (bpf_get_prandom_u32).")
current_task = _intrinsic("current_task", "The address of the current task_struct, u64.")
cgroup_id = _intrinsic("cgroup_id", "The current task's cgroup v2 id, u64.")
kstr = _intrinsic("kstr", "kstr(ptr, size=64): a NUL-terminated string read from kernel memory.")
log2 = _intrinsic("log2", "floor(log2(v)) as u32 (0 for 0 and 1): the bucket of a power-of-two histogram.")
kptr = _intrinsic("kptr", 'kptr(address, "struct sock"): the address as a pointer to a kernel type, whose fields '
                          "read kernel memory (p.field, p.member.field) through bpf_probe_read_kernel.")
loop = _intrinsic("loop", "loop(n, body): bpf_loop — body(i) (a module function, compiled as a callback subprogram) "
                          "for i in 0..n-1, stopping early when it returns 1; the number of iterations done.")
printk = _intrinsic("printk", 'printk(f"...{x}..."): a line in /sys/kernel/tracing/trace_pipe (bpf_trace_printk).')

def noinline(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Compile this module function as a bpf-to-bpf subprogram called from the probes (one copy, its own stack
    frame) instead of inlining it at every call: integer parameters (at most five) and an integer result."""
    fn.__probe_noinline__ = True  # type: ignore[attr-defined]
    return fn


__all__ = [
    "noinline", "pid", "tgid", "tid", "uid", "gid", "comm", "ktime_ns", "cpu", "random", "current_task",
    "cgroup_id", "kstr", "printk", "log2", "kptr", "loop",
]
