"""A log2 histogram of read() latency in nanoseconds, per power of two:

    sudo pyebpf probe examples/probes/syscall_latency.py --duration 5

Two probes share the `start` map (entry time per thread) — `pyebpf probe` loads them together.
"""
from pyebpf.probe import HashMap, ktime_ns, probe, tid, u32, u64

start = HashMap(u32, u64, max_entries=10240)
log2_ns = HashMap(u32, u64, max_entries=64)


def log2(v: u64) -> u32:
    n: u32 = 0
    for _ in range(64):
        if v <= 1:
            break
        v >>= 1
        n += 1
    return n


@probe("tracepoint/syscalls/sys_enter_read")
def read_enter(ctx):
    start[tid()] = ktime_ns()


@probe("tracepoint/syscalls/sys_exit_read")
def read_exit(ctx):
    t = tid()
    began = start.get(t, 0)
    if began:
        del start[t]
        log2_ns[log2(ktime_ns() - began)] += 1
