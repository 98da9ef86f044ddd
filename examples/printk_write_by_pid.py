"""bpf_printk on every write() of one process: a tracepoint on syscalls/sys_enter_write filtered by PID.

    sudo python examples/printk_write_by_pid.py PID [--seconds 5]

The program is built with pyebpf's Builder; the PID is patched in as a constant (no map, no lookup), so the filter
is a single compare. Lines are read back from tracefs trace_pipe. Before loading, the same Program runs once in the
VM on a synthetic sys_enter_write record from that PID, to show the line it will print.
"""
from __future__ import annotations

import argparse
import sys
import time

from pyebpf import R0, R1, R2, R3, R4, R5, R6, R10, Builder

FMT = b"write pid=%d fd=%d count=%d\n\0"
# struct trace_event_raw_sys_enter for write(): see /sys/kernel/tracing/events/syscalls/sys_enter_write/format
OFF_FD, OFF_COUNT = 16, 32
SYS_WRITE = 1  # x86-64


def build(pid: int):
    """The probe for one PID (its thread-group id, what ps calls the PID)."""
    b = Builder("tracepoint", name="write_by_pid", attach_to="syscalls/sys_enter_write")
    b.mov(R6, R1)
    b.call("get_current_pid_tgid").rsh(R0, 32)
    b.jump_if(R0 != pid, "out")                                     # the patched-in constant
    fmt = FMT.ljust((len(FMT) + 7) // 8 * 8, b"\0")
    for i in range(0, len(fmt), 8):                                 # the format string lives on the stack
        b.ld_imm64(R1, int.from_bytes(fmt[i:i + 8], "little")).store(R10 + (i - len(fmt)), R1, "u64")
    b.mov(R3, R0).load(R4, R6 + OFF_FD, "u64").load(R5, R6 + OFF_COUNT, "u64")
    b.mov(R1, R10).add(R1, -len(fmt)).mov(R2, len(FMT)).call("trace_printk")
    b.label("out")
    return b.ret(0).build()


def simulate(program, pid: int, fd: int = 1, count: int = 6) -> list[str]:
    """Run the program in the VM on a sys_enter_write record from `pid`: the printk lines it produces."""
    from pyebpf import VM
    from pyebpf.vm.context import SysEnterContext
    from pyebpf.vm.env import Environment

    vm = VM(program, env=Environment(pid=pid, tgid=pid))
    return vm.run(SysEnterContext(SYS_WRITE, [fd, 0, count], pid=pid)).printk


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("pid", type=int, help="process (thread group) id to watch")
    ap.add_argument("--seconds", type=float, default=5.0, help="how long to watch (default 5)")
    args = ap.parse_args(argv)

    from pyebpf.errors import PyebpfError
    from pyebpf.loader import load
    from pyebpf.loader.attach import attach_tracepoint
    from pyebpf.loader.trace_pipe import TracePipe

    program = build(args.pid)
    for line in simulate(program, args.pid):
        print(f"vm: {line.rstrip()}")
    try:
        with load(program) as prog, TracePipe() as pipe, attach_tracepoint(prog, "syscalls", "sys_enter_write"):
            deadline = time.monotonic() + args.seconds
            try:
                print(f"watching write() of pid {args.pid} for {args.seconds:g}s", flush=True)
                while time.monotonic() < deadline:
                    for line in pipe.read(timeout=min(0.2, max(deadline - time.monotonic(), 0))):
                        if line.is_printk and line.message.startswith(f"write pid={args.pid} "):
                            print(f"[cpu {line.cpu}] {line.comm}-{line.pid} {line.timestamp:.6f}: {line.message}",
                                  flush=True)
            except KeyboardInterrupt:                               # Ctrl-C ends the watch; `with` detaches
                pass
    except PyebpfError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
