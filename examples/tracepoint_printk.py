"""bpf_printk from a tracepoint, read back through trace_pipe and parsed into fields.

    sudo python examples/tracepoint_printk.py

Prints "hello from pid <tgid>" in the kernel each time this process calls getppid(), then reads the lines.
"""
import os

from pyebpf import R0, R1, R2, R3, R10, Builder
from pyebpf.loader import load
from pyebpf.loader.attach import attach_tracepoint
from pyebpf.loader.trace_pipe import TracePipe

FMT = b"hello from pid %d\n\0"


def build(pid: int):
    b = Builder("tracepoint")
    b.call("get_current_pid_tgid").rsh(R0, 32)
    b.jump_if(R0 != pid, "out")
    fmt = FMT.ljust((len(FMT) + 7) // 8 * 8, b"\0")
    for i in range(0, len(fmt), 8):                                 # the format string lives on the stack
        b.ld_imm64(R1, int.from_bytes(fmt[i:i + 8], "little")).store(R10 + (i - len(fmt)), R1, "u64")
    b.mov(R3, R0).mov(R1, R10).add(R1, -len(fmt)).mov(R2, len(FMT)).call("trace_printk")
    b.label("out")
    return b.ret(0).build()


if __name__ == "__main__":
    with load(build(os.getpid())) as prog, TracePipe() as pipe, \
            attach_tracepoint(prog, "syscalls", "sys_enter_getppid"):
        for _ in range(3):
            os.getppid()
        for line in pipe.read_until(lambda l: l.message.startswith("hello from pid"), count=3, timeout=2):
            print(f"[cpu {line.cpu}] {line.comm}-{line.pid} at {line.timestamp:.6f}: {line.message}")
