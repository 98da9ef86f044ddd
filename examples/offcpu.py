"""Off-CPU time per process from sched/sched_switch: how long each PID spent switched out (sleeping, waiting).

    sudo python examples/offcpu.py [--seconds 5] [--top 20] [--pid PID ...]

On every context switch the program stores the switch-out time of the task leaving the CPU in a hash map keyed by
its pid, and when a task comes back on a CPU it adds now - that time to the task's total (a second hash map: pid ->
{total ns, comm}). After N seconds Python prints the totals as a table, largest first. Before loading, the same
Program runs in the VM on two synthetic switch records to show the arithmetic.
"""
from __future__ import annotations

import argparse
import ctypes
import struct
import sys
import time

from pyebpf import R0, R1, R2, R3, R4, R6, R7, R8, R10, Builder

# struct trace_event_raw_sched_switch: see /sys/kernel/tracing/events/sched/sched_switch/format
OFF_PREV_PID, OFF_NEXT_COMM, OFF_NEXT_PID = 24, 40, 56
RECORD_SIZE = 64
TASK_COMM_LEN = 16
MAX_TASKS = 16384


class OffCpu(ctypes.Structure):
    _fields_ = [("ns", ctypes.c_uint64), ("comm", ctypes.c_char * TASK_COMM_LEN)]


def build():
    b = Builder("tracepoint", name="offcpu", attach_to="sched/sched_switch")
    b.map("switched_out", "hash", ctypes.c_uint32, ctypes.c_uint64, MAX_TASKS)
    b.map("offcpu", "hash", ctypes.c_uint32, OffCpu, MAX_TASKS)
    b.mov(R6, R1)
    b.call("ktime_get_ns").mov(R7, R0)                              # r7 = now
    # the task leaving the CPU: switched_out[prev_pid] = now (the idle task, pid 0, is not tracked)
    b.load(R1, R6 + OFF_PREV_PID, "u32")
    with b.if_(R1 != 0):
        b.store(R10 - 4, R1, "u32").store(R10 - 16, R7, "u64")
        b.ld_map(R1, "switched_out").mov(R2, R10).add(R2, -4).mov(R3, R10).add(R3, -16).mov(R4, 0)
        b.call("map_update_elem")
    # the task coming on: offcpu[next_pid].ns += now - switched_out[next_pid]
    b.load(R1, R6 + OFF_NEXT_PID, "u32")
    b.jump_if(R1 == 0, "out")
    b.store(R10 - 4, R1, "u32")
    b.ld_map(R1, "switched_out").mov(R2, R10).add(R2, -4).call("map_lookup_elem")
    b.jump_if(R0 == 0, "out")
    b.load(R1, R0 + 0, "u64").mov(R8, R7).sub(R8, R1)               # r8 = off-CPU time of this stretch
    b.ld_map(R1, "switched_out").mov(R2, R10).add(R2, -4).call("map_delete_elem")
    b.ld_map(R1, "offcpu").mov(R2, R10).add(R2, -4).call("map_lookup_elem")
    with b.if_(R0 != 0):
        b.atomic_add(R0 + 0, R8)
    with b.else_():                                                 # first stretch: {ns, next_comm}
        b.store(R10 - 40, R8, "u64")
        b.load(R1, R6 + OFF_NEXT_COMM, "u64").store(R10 - 32, R1, "u64")
        b.load(R1, R6 + OFF_NEXT_COMM + 8, "u64").store(R10 - 24, R1, "u64")
        b.ld_map(R1, "offcpu").mov(R2, R10).add(R2, -4).mov(R3, R10).add(R3, -40).mov(R4, 0)
        b.call("map_update_elem")
    b.label("out")
    return b.ret(0).build()


def switch_record(prev_pid: int, next_pid: int, next_comm: bytes, prev_comm: bytes = b"") -> bytes:
    """A sched_switch record as the tracepoint hands it to the program."""
    raw = bytearray(RECORD_SIZE)
    raw[8:24] = prev_comm[:15].ljust(16, b"\0")
    struct.pack_into("<i", raw, OFF_PREV_PID, prev_pid)
    raw[OFF_NEXT_COMM:OFF_NEXT_COMM + 16] = next_comm[:15].ljust(16, b"\0")
    struct.pack_into("<i", raw, OFF_NEXT_PID, next_pid)
    return bytes(raw)


def simulate(program) -> dict[int, tuple[str, int]]:
    """pid 100 ("sleeper") switched out at t=1000 ns and back in at t=5000 ns, in the VM: {pid: (comm, ns)}."""
    from pyebpf import VM
    from pyebpf.vm.context import TracepointContext
    from pyebpf.vm.env import Environment

    clock = iter([1_000, 5_000])
    vm = VM(program, env=Environment(time_ns=lambda: next(clock)))
    vm.run(TracepointContext(switch_record(100, 0, b"swapper/0", b"sleeper")))
    vm.run(TracepointContext(switch_record(0, 100, b"sleeper", b"swapper/0")))
    return table(vm.maps["offcpu"])


def table(offcpu_map) -> dict[int, tuple[str, int]]:
    """{pid: (comm, off-CPU ns)} from the offcpu map (VM or kernel: the same typed face)."""
    return {int(pid): (v.comm.decode(errors="replace"), int(v.ns)) for pid, v in offcpu_map.items()}


def format_table(rows: dict[int, tuple[str, int]], top: int) -> str:
    lines = [f"{'PID':>8}  {'COMM':<16} {'OFF-CPU ms':>12}"]
    for pid, (comm, ns) in sorted(rows.items(), key=lambda kv: -kv[1][1])[:top]:
        lines.append(f"{pid:>8}  {comm:<16} {ns / 1e6:>12.3f}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=5.0, help="how long to measure (default 5)")
    ap.add_argument("--top", type=int, default=20, help="rows to print (default 20)")
    ap.add_argument("--pid", type=int, action="append", help="only these pids (repeatable)")
    args = ap.parse_args(argv)

    from pyebpf.errors import PyebpfError
    from pyebpf.loader import load
    from pyebpf.loader.attach import attach_tracepoint

    program = build()
    for pid, (comm, ns) in simulate(program).items():
        print(f"vm: pid {pid} ({comm}) off-CPU {ns} ns")
    try:
        with load(program) as prog, attach_tracepoint(prog, "sched", "sched_switch"):
            try:
                print(f"measuring off-CPU time for {args.seconds:g}s", flush=True)
                time.sleep(args.seconds)
            except KeyboardInterrupt:                               # Ctrl-C: print what was measured so far
                pass
            rows = table(prog.maps["offcpu"])
    except PyebpfError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    if args.pid:
        rows = {pid: row for pid, row in rows.items() if pid in set(args.pid)}
    print(format_table(rows, args.top))
    return 0


if __name__ == "__main__":
    sys.exit(main())
