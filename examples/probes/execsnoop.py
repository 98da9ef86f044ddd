"""Every exec() on the machine: pid, parent-visible old pid, command name and the file executed.

    sudo pyebpf probe examples/probes/execsnoop.py

`ctx.filename` is a `__data_loc char[]` field of sched:sched_process_exec: `str()` of it reads the string stored
inside the tracepoint record.
"""
import ctypes

from pyebpf.probe import RingBuf, comm, probe


class Exec(ctypes.Structure):
    _fields_ = [("pid", ctypes.c_int32), ("old_pid", ctypes.c_int32), ("comm", ctypes.c_char * 16),
                ("filename", ctypes.c_char * 128)]


execs = RingBuf(Exec)


@probe("tracepoint/sched/sched_process_exec")
def execsnoop(ctx):
    execs.output(Exec(pid=ctx.pid, old_pid=ctx.old_pid, comm=comm(), filename=str(ctx.filename)))
