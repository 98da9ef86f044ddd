"""Every openat() on the machine as a typed event: pid, command name, flags and file name.

    sudo pyebpf probe examples/probes/opensnoop.py

The Builder version is examples/ringbuf_openat_events.py (the record filled field by field through registers).
"""
import ctypes

from pyebpf.probe import RingBuf, comm, pid, probe


class OpenEvent(ctypes.Structure):
    _fields_ = [("pid", ctypes.c_uint32), ("flags", ctypes.c_uint32), ("comm", ctypes.c_char * 16),
                ("filename", ctypes.c_char * 128)]


events = RingBuf(OpenEvent, size=1 << 20)


@probe("tracepoint/syscalls/sys_enter_openat")
def opensnoop(ctx):
    events.output(OpenEvent(pid=pid(), flags=ctx.flags, comm=comm(), filename=str(ctx.filename)))
