"""Off-CPU time by kernel and user stack, symbolised, printed as bcc's offcputime prints it.

    sudo python examples/offcputime.py [-p PID] [-f] [-d] [-u | -k] [-m US] [-M US] [--svg FILE] [duration]

A tracepoint program on sched/sched_switch records, for the task leaving the CPU (the current task), when it left,
its process id and its kernel and user stacks (bpf_get_stackid, the second with BPF_F_USER_STACK); when the task
comes back on a CPU its off-CPU time in microseconds is added under {pid, tgid, user stack, kernel stack, comm} —
bcc's key. After `duration` seconds Python symbolises the stacks (kernel addresses through /proc/kallsyms, user
addresses through the process's maps and ELF symbols) and prints them bcc's way, smallest total first: kernel
frames, `--` (with -d) and user frames, `-                comm (pid)`, the total in us. `-f` prints folded
`comm;user frames;-;kernel frames us` lines (the `-` with -d) for flame-graph tools and `--svg` writes a flame graph.
The stacks are taken at the switch-out, where the task blocked (`__schedule` <- `schedule` <- ... <- the syscall):
bcc takes them at the switch-in in `finish_task_switch`, whose stack is the same path.
"""
from __future__ import annotations

import argparse
import ctypes
import sys
import time
from dataclasses import dataclass

from pyebpf import R0, R1, R2, R3, R4, R6, R7, R8, R9, R10, Builder
from pyebpf.abi.uapi import HelperFlags
from pyebpf.system.stacks import StackSample, folded_stacks, stack_frames, stack_lines

PERF_MAX_STACK_DEPTH = 127
TASK_COMM_LEN = 16
MAX_STACKS = 16384
MAX_TASKS = 32768


class Key(ctypes.Structure):
    """bcc offcputime's struct key_t."""
    _fields_ = [("pid", ctypes.c_uint32), ("tgid", ctypes.c_uint32), ("user_stack_id", ctypes.c_int32),
                ("kernel_stack_id", ctypes.c_int32), ("name", ctypes.c_char * TASK_COMM_LEN)]


class Start(ctypes.Structure):
    """What the switch-out leaves for the switch-in: when, which process, where (stack ids)."""
    _fields_ = [("ts", ctypes.c_uint64), ("tgid", ctypes.c_uint32), ("user_stack_id", ctypes.c_int32),
                ("kernel_stack_id", ctypes.c_int32), ("_pad", ctypes.c_uint32)]


Stack = ctypes.c_uint64 * PERF_MAX_STACK_DEPTH


@dataclass(frozen=True)
class SwitchLayout:
    """Offsets of the sched_switch record fields the program reads."""
    prev_pid: int
    next_comm: int
    next_pid: int
    size: int


#: struct trace_event_raw_sched_switch as every kernel since 4.x lays it out (used when tracefs is not mounted).
DEFAULT_LAYOUT = SwitchLayout(prev_pid=24, next_comm=40, next_pid=56, size=64)


def switch_layout() -> SwitchLayout:
    """The running kernel's sched_switch layout from its tracefs format file, else DEFAULT_LAYOUT."""
    from pyebpf.errors import PyebpfError
    from pyebpf.system.tracefs import tracepoint_format

    try:
        fmt = tracepoint_format("sched", "sched_switch")
        return SwitchLayout(fmt.field("prev_pid").offset, fmt.field("next_comm").offset,
                            fmt.field("next_pid").offset, fmt.size)
    except (PyebpfError, OSError, KeyError):
        return DEFAULT_LAYOUT


def _offsets(struct: type, base: int) -> dict[str, int]:
    return {name: base + getattr(struct, name).offset for name, _ in struct._fields_}


START = _offsets(Start, -40)          # fp-40 .. fp-17
KEY = _offsets(Key, -72)              # fp-72 .. fp-41
TID, VALUE = -4, -80                  # the start map's key; a new counts value


def build(pid: int | None = None, min_us: int = 1, max_us: int = (1 << 64) - 1, layout: SwitchLayout | None = None):
    """The sched_switch program; `pid` keeps only that process (its threads), min_us/max_us bound the blocks
    counted, as bcc's -p, -m and -M."""
    lay = layout or switch_layout()
    b = Builder("tracepoint", name="offcputime", attach_to="sched/sched_switch")
    b.map("stacks", "stack_trace", ctypes.c_uint32, Stack, MAX_STACKS)
    b.map("start", "hash", ctypes.c_uint32, Start, MAX_TASKS)
    b.map("counts", "hash", Key, ctypes.c_uint64, MAX_TASKS)
    b.mov(R6, R1)
    b.call("ktime_get_ns").mov(R7, R0)                                 # r7 = now
    # switch-out: the current task (prev) records when and where it left; the idle task (tid 0) is not tracked
    b.load(R1, R6 + lay.prev_pid, "u32")
    b.jump_if(R1 == 0, "switch_in")
    b.store(R10 + TID, R1, "u32")
    b.call("get_current_pid_tgid").rsh(R0, 32)
    if pid is not None:
        b.jump_if(R0 != pid, "switch_in")
    b.store(R10 + START["tgid"], R0, "u32").store(R10 + START["ts"], R7, "u64").store(R10 + START["_pad"], 0, "u32")
    b.mov(R1, R6).ld_map(R2, "stacks").mov(R3, 0).call("get_stackid")
    b.store(R10 + START["kernel_stack_id"], R0, "u32")
    b.mov(R1, R6).ld_map(R2, "stacks").mov(R3, int(HelperFlags.USER_STACK)).call("get_stackid")
    b.store(R10 + START["user_stack_id"], R0, "u32")
    b.ld_map(R1, "start").mov(R2, R10).add(R2, TID).mov(R3, R10).add(R3, START["ts"]).mov(R4, 0)
    b.call("map_update_elem")
    # switch-in: the task coming on (next) adds now - when it left, under its stacks
    b.label("switch_in")
    b.load(R1, R6 + lay.next_pid, "u32")
    b.jump_if(R1 == 0, "out")
    b.store(R10 + TID, R1, "u32").store(R10 + KEY["pid"], R1, "u32")
    b.ld_map(R1, "start").mov(R2, R10).add(R2, TID).call("map_lookup_elem")
    b.jump_if(R0 == 0, "out")                                           # it left before we started, or filtered
    b.mov(R8, R0)
    b.load(R1, R8 + 0, "u64")
    b.jump_if(R1 > R7, "forget")                                        # clocks of two CPUs: never negative
    b.mov(R9, R7).sub(R9, R1).div(R9, 1000)                             # r9 = off-CPU us
    if min_us > 0:
        b.ld_imm64(R1, min_us).jump_if(R9 < R1, "forget")
    if max_us < (1 << 64) - 1:
        b.ld_imm64(R1, max_us).jump_if(R9 > R1, "forget")
    for field in ("tgid", "user_stack_id", "kernel_stack_id"):
        b.load(R1, R8 + getattr(Start, field).offset, "u32").store(R10 + KEY[field], R1, "u32")
    for half in (0, 8):
        b.load(R1, R6 + lay.next_comm + half, "u64").store(R10 + KEY["name"] + half, R1, "u64")
    b.ld_map(R1, "counts").mov(R2, R10).add(R2, KEY["pid"]).call("map_lookup_elem")
    with b.if_(R0 != 0):
        b.atomic_add(R0 + 0, R9)
    with b.else_():
        b.store(R10 + VALUE, R9, "u64")
        b.ld_map(R1, "counts").mov(R2, R10).add(R2, KEY["pid"]).mov(R3, R10).add(R3, VALUE).mov(R4, 0)
        b.call("map_update_elem")
    b.label("forget")
    b.ld_map(R1, "start").mov(R2, R10).add(R2, TID).call("map_delete_elem")
    b.label("out")
    return b.ret(0).build()


def read_samples(counts, stacks, offsets: bool = False) -> list[StackSample]:
    """The counts map symbolised, smallest total first (bcc's order); pid is the thread id, as bcc prints it."""
    from pyebpf.system.symbolize import KernelSymbolizer, ProcessSymbolizer

    entries = list(counts.items())  # first: the program keeps counting while kallsyms is read
    ksym = KernelSymbolizer()
    procs: dict[int, ProcessSymbolizer] = {}
    out = []
    for key, us in entries:
        user = procs.setdefault(int(key.tgid), ProcessSymbolizer(int(key.tgid)))
        out.append(StackSample(int(key.pid), bytes(key.name).split(b"\0")[0].decode(errors="replace"),
                               stack_frames(stacks, int(key.kernel_stack_id), ksym, offsets),
                               stack_frames(stacks, int(key.user_stack_id), user, offsets), int(us)))
    out.sort(key=lambda s: s.value)
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("duration", nargs="?", type=float, default=5.0, help="seconds to trace (default 5)")
    ap.add_argument("-p", "--pid", type=int, help="trace this process only")
    ap.add_argument("-f", "--folded", action="store_true", help="folded output, one line per stack")
    ap.add_argument("-d", "--delimited", action="store_true", help="a delimiter between kernel and user stacks")
    only = ap.add_mutually_exclusive_group()
    only.add_argument("-u", "--user-stacks-only", action="store_true", help="user stacks only")
    only.add_argument("-k", "--kernel-stacks-only", action="store_true", help="kernel stacks only")
    ap.add_argument("-m", "--min-block-time", type=int, default=1, metavar="US", help="count blocks >= US")
    ap.add_argument("-M", "--max-block-time", type=int, default=(1 << 64) - 1, metavar="US", help="count blocks <= US")
    ap.add_argument("--offsets", action="store_true", help="symbol offsets (name+28)")
    ap.add_argument("--svg", metavar="FILE", help="also write a flame graph SVG")
    args = ap.parse_args(argv)
    if args.duration < 0 or args.min_block_time < 0 or args.max_block_time < args.min_block_time:
        ap.error("need duration >= 0 and 0 <= --min-block-time <= --max-block-time")

    from pyebpf.errors import PyebpfError
    from pyebpf.loader import load
    from pyebpf.loader.attach import attach_tracepoint
    from pyebpf.system.flamegraph import flamegraph_svg, folded

    kernel, user = not args.user_stacks_only, not args.kernel_stacks_only
    try:
        with load(build(args.pid, args.min_block_time, args.max_block_time)) as prog, \
                attach_tracepoint(prog, "sched", "sched_switch"):
            if not args.folded:
                who = f"PID {args.pid}" if args.pid is not None else "all threads"
                what = "user + kernel" if kernel and user else "user" if user else "kernel"
                print(f"Tracing off-CPU time (us) of {who} by {what} stack for {args.duration:g} secs.", flush=True)
            try:
                time.sleep(args.duration)
            except KeyboardInterrupt:
                pass
            samples = read_samples(prog.maps["counts"], prog.maps["stacks"], args.offsets)
    except PyebpfError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    stacks = folded_stacks(samples, args.delimited, kernel, user)
    if args.folded:
        print(folded(stacks, leaf_first=False), end="")
    else:
        print(stack_lines(samples, args.delimited, kernel, user))
    if args.svg:
        try:
            with open(args.svg, "w") as f:
                f.write(flamegraph_svg(stacks, title="Off-CPU Time Flame Graph", count_name="us"))
        except OSError as e:
            print(f"error: {args.svg}: {e.strerror}", file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
