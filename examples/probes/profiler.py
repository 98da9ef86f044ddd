"""A CPU profile: stacks sampled on every CPU at 99 Hz, printed folded for a flame graph (bcc libbpf-tools
profile -f):

    sudo python examples/probes/profiler.py [seconds] > out.folded
"""
import ctypes
import sys
import time

from pyebpf.probe import HashMap, StackTrace, comm, pid, probe, u64

TARGET_TGID = 0  # only this process (-p PID); 0: everything
stacks = StackTrace(max_entries=16384)


class Key(ctypes.Structure):
    _fields_ = [("pid", ctypes.c_uint32), ("comm", ctypes.c_char * 16), ("kstack", ctypes.c_int64),
                ("ustack", ctypes.c_int64)]


counts = HashMap(Key, u64, max_entries=16384)


@probe("perf_event", frequency=99)
def sample(ctx):
    if TARGET_TGID == 0 or pid() == TARGET_TGID:
        counts[Key(pid=pid(), comm=comm(), kstack=stacks.kstack(), ustack=stacks.ustack())] += 1


def folded() -> list[str]:
    """`comm;user frames;kernel frames count`, outermost frame first."""
    out = []
    for key, n in counts.items():
        user = stacks.symbols(key.ustack, key.pid, offsets=False)
        kernel = stacks.symbols(key.kstack, offsets=False)
        out.append(f"{';'.join([key.comm.decode(errors='replace')] + user[::-1] + kernel[::-1])} {n}")
    return out


if __name__ == "__main__":
    with sample.load():
        try:
            time.sleep(float(sys.argv[1]) if len(sys.argv) > 1 else 5.0)
        except KeyboardInterrupt:
            pass
    print("\n".join(folded()))
