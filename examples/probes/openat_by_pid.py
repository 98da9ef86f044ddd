"""Count openat() calls per process, with the process name: `pyebpf probe examples/probes/openat_by_pid.py`.

The Builder version of the count alone is examples/openat_counter.py (assembly through method calls).
"""
from pyebpf.probe import HashMap, comm, pid, probe, u32, u64
import ctypes


class Proc(ctypes.Structure):
    _fields_ = [("pid", ctypes.c_uint32), ("comm", ctypes.c_char * 16)]


opens = HashMap(Proc, u64, max_entries=10240)


@probe("tracepoint/syscalls/sys_enter_openat")
def count_openat(ctx):
    opens[Proc(pid(), comm())] += 1
