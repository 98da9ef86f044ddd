"""Stream every openat() on the machine through a BPF ring buffer: pid, command name and file name.

    sudo python examples/ringbuf_openat_events.py [seconds]

A tracepoint program on syscalls/sys_enter_openat reserves a record in the ring buffer, fills it with the pid,
bpf_get_current_comm() and the file name (bpf_probe_read_user_str from the syscall's second argument) and submits
it; Python reads the records as a ctypes Structure.
"""
import ctypes
import sys
import time

from pyebpf import R0, R1, R2, R3, R6, R7, Builder
from pyebpf.loader import load
from pyebpf.loader.attach import attach_tracepoint
from pyebpf.loader.ringbuf import RingBuffer


class OpenEvent(ctypes.Structure):
    _fields_ = [("pid", ctypes.c_uint32), ("comm", ctypes.c_char * 16), ("filename", ctypes.c_char * 128)]


def build():
    b = Builder("tracepoint", attach_to="syscalls/sys_enter_openat")
    b.map("events", "ringbuf", max_entries=1 << 20)
    b.mov(R6, R1)                                                   # ctx: struct trace_event_raw_sys_enter
    b.ld_map(R1, "events").mov(R2, ctypes.sizeof(OpenEvent)).mov(R3, 0).call("ringbuf_reserve")
    with b.if_(R0 != 0):
        b.mov(R7, R0)
        b.call("get_current_pid_tgid").rsh(R0, 32).store(R7 + 0, R0, "u32")
        b.mov(R1, R7).add(R1, OpenEvent.comm.offset).mov(R2, 16).call("get_current_comm")
        b.mov(R1, R7).add(R1, OpenEvent.filename.offset).mov(R2, 128)
        b.load(R3, R6 + 24, "u64")                                 # args[1]: const char *filename
        b.call("probe_read_user_str")
        b.mov(R1, R7).mov(R2, 0).call("ringbuf_submit")
    return b.ret(0).build()


def main(seconds: float = 5.0) -> None:
    with load(build()) as prog, RingBuffer(prog.maps["events"], decode=OpenEvent) as rb, \
            attach_tracepoint(prog, "syscalls", "sys_enter_openat"):
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            for ev in rb.read(timeout=0.2):
                print(f"{ev.pid:>7} {ev.comm.decode(errors='replace'):<16} {ev.filename.decode(errors='replace')}")


if __name__ == "__main__":
    main(float(sys.argv[1]) if len(sys.argv) > 1 else 5.0)
