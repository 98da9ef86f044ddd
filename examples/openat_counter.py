"""Count openat() calls per PID in a hash map: the tracepoint program from our notes, built in Python.

`python examples/openat_counter.py` prints it, runs it in the VM, and as root loads and attaches it for real.
"""
from ctypes import c_uint32, c_uint64

from pyebpf import R0, R1, R2, R3, R4, R10, Builder


def build():
    b = Builder("tracepoint", attach_to="syscalls/sys_enter_openat")
    counts = b.map("counts", "hash", key=c_uint32, value=c_uint64, max_entries=10240)
    b.call("get_current_pid_tgid").rsh(R0, 32)           # r0 = tgid (the user-visible pid)
    b.store(R10 - 4, R0, "u32")                          # key = pid, on the stack
    b.mov(R2, R10).add(R2, -4).ld_map(R1, counts).call("map_lookup_elem")
    with b.if_(R0 != 0):                                 # seen before: count += 1
        b.mov(R1, 1).atomic_add(R0 + 0, R1)
    with b.else_():                                      # first open: insert 1
        b.store(R10 - 16, 1, "u64")
        b.mov(R2, R10).add(R2, -4).mov(R3, R10).add(R3, -16).mov(R4, 0)
        b.ld_map(R1, counts).call("map_update_elem")
    return b.ret(0).build()


if __name__ == "__main__":
    import pyebpf

    print(pyebpf.disassemble(build()))
