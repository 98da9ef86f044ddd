"""A power-of-two histogram of read() latency in nanoseconds, printed as bpftrace prints hist():

    sudo pyebpf probe examples/probes/syscall_latency.py --duration 5

Two probes share the `start` map (entry time per thread) — `pyebpf probe` loads them together.
"""
from pyebpf.probe import HashMap, Log2Histogram, ktime_ns, probe, tid, u32, u64

start = HashMap(u32, u64, max_entries=10240)
read_ns = Log2Histogram()


@probe("tracepoint/syscalls/sys_enter_read")
def read_enter(ctx):
    start[tid()] = ktime_ns()


@probe("tracepoint/syscalls/sys_exit_read")
def read_exit(ctx):
    t = tid()
    began = start.get(t, 0)
    if began:
        del start[t]
        read_ns.record(ktime_ns() - began)
