"""Off-CPU time by kernel and user stack, as folded stacks for a flame graph:

    sudo python examples/probes/offcputime.py [seconds] > out.folded

At sched_switch the task going off the CPU records when and where (its stacks); when it comes back its off-CPU
time is added under (pid, comm, kernel stack, user stack). The Builder version is examples/offcpu.py.
"""
import ctypes
import sys
import time

from pyebpf.probe import HashMap, StackTrace, comm, ktime_ns, probe, u32, u64

stacks = StackTrace(max_entries=16384)


class Sleep(ctypes.Structure):
    _fields_ = [("ts", ctypes.c_uint64), ("kstack", ctypes.c_int64), ("ustack", ctypes.c_int64)]


class Key(ctypes.Structure):
    _fields_ = [("pid", ctypes.c_uint32), ("comm", ctypes.c_char * 16), ("kstack", ctypes.c_int64),
                ("ustack", ctypes.c_int64)]


asleep = HashMap(u32, Sleep, max_entries=16384)
offcpu_ns = HashMap(Key, u64, max_entries=16384)


@probe("tracepoint/sched/sched_switch")
def offcpu(ctx):
    prev = u32(ctx.prev_pid)
    if prev != 0:
        asleep[prev] = Sleep(ts=ktime_ns(), kstack=stacks.kstack(), ustack=stacks.ustack())
    nxt = u32(ctx.next_pid)
    began = asleep[nxt].ts
    if began:
        key = Key(pid=nxt, comm=ctx.next_comm, kstack=asleep[nxt].kstack, ustack=asleep[nxt].ustack)
        offcpu_ns[key] += ktime_ns() - began
        del asleep[nxt]


def folded() -> list[str]:
    """`comm;ustack frames;kstack frames count` lines (Brendan Gregg's folded format, outermost frame first)."""
    out = []
    for key, ns in offcpu_ns.items():
        user = stacks.symbols(key.ustack, key.pid, offsets=False)
        kernel = stacks.symbols(key.kstack, offsets=False)
        frames = [key.comm.decode(errors="replace")] + user[::-1] + kernel[::-1]
        out.append(f"{';'.join(frames)} {ns // 1000}")
    return out


if __name__ == "__main__":
    with offcpu.load():
        time.sleep(float(sys.argv[1]) if len(sys.argv) > 1 else 5.0)
    print("\n".join(folded()))
