"""On-CPU profile: sample every CPU at 99 Hz and count the kernel and user stacks on CPU, as bcc's profile does.

    sudo python examples/profile.py [--seconds 5] [--hz 99] [--pid PID] [--folded] [--svg FILE]

A BPF_PROG_TYPE_PERF_EVENT program attached to `cpu-clock` on every online CPU runs on each sample: it records the
interrupted task's kernel stack and user stack in a stack trace map (bpf_get_stackid, the second with
BPF_F_USER_STACK) and counts the sample under {pid, kernel stack id, user stack id, comm}. After N seconds Python
reads the counts, symbolises the stacks (kernel addresses through /proc/kallsyms, user addresses through the
process's maps and ELF symbols) and prints them bcc's way: the stacks with `--` between kernel and user frames, then
`- comm (pid)` and the count; `--folded` prints `comm;user;frames;-;kernel;frames count` lines for flame-graph tools
and `--svg FILE` writes a flame graph. The idle task (pid 0) is not counted, as bcc's profile does by default.
"""
from __future__ import annotations

import argparse
import ctypes
import sys
import time

from pyebpf import R0, R1, R2, R3, R4, R6, R7, R10, Builder
from pyebpf.abi.uapi import HelperFlags
from pyebpf.system.stacks import StackSample, stack_frames, stack_lines
from pyebpf.system.stacks import folded_stacks as fold_samples

PERF_MAX_STACK_DEPTH = 127
TASK_COMM_LEN = 16
MAX_STACKS = 16384
MAX_KEYS = 40960


class Key(ctypes.Structure):
    _fields_ = [("pid", ctypes.c_uint32), ("kernel_stack_id", ctypes.c_int32), ("user_stack_id", ctypes.c_int32),
                ("_pad", ctypes.c_uint32), ("comm", ctypes.c_char * TASK_COMM_LEN)]


Stack = ctypes.c_uint64 * PERF_MAX_STACK_DEPTH
K_PID, K_KSTACK, K_USTACK, K_PAD, K_COMM = (-ctypes.sizeof(Key) + getattr(Key, f).offset
                                            for f in ("pid", "kernel_stack_id", "user_stack_id", "_pad", "comm"))


def build(pid: int | None = None):
    """The sampling program: {pid, kernel stack, user stack, comm} -> samples."""
    b = Builder("perf_event", name="profile", attach_to="cpu-clock:99")
    b.map("stacks", "stack_trace", ctypes.c_uint32, Stack, MAX_STACKS)
    b.map("counts", "hash", Key, ctypes.c_uint64, MAX_KEYS)
    b.mov(R6, R1)
    b.call("get_current_pid_tgid").rsh(R0, 32).mov(R7, R0)          # r7 = tgid (the process id)
    b.jump_if(R7 == 0, "out")                                        # the idle task
    if pid is not None:
        b.jump_if(R7 != pid, "out")
    b.store(R10 + K_PID, R7, "u32").store(R10 + K_PAD, 0, "u32")
    b.mov(R1, R10).add(R1, K_COMM).mov(R2, TASK_COMM_LEN).call("get_current_comm")
    b.mov(R1, R6).ld_map(R2, "stacks").mov(R3, 0).call("get_stackid")
    b.store(R10 + K_KSTACK, R0, "u32")
    b.mov(R1, R6).ld_map(R2, "stacks").mov(R3, int(HelperFlags.USER_STACK)).call("get_stackid")
    b.store(R10 + K_USTACK, R0, "u32")
    b.ld_map(R1, "counts").mov(R2, R10).add(R2, K_PID).call("map_lookup_elem")
    with b.if_(R0 != 0):
        b.mov(R1, 1).atomic_add(R0 + 0, R1)
    with b.else_():
        b.store(R10 + K_PID - 8, 1, "u64")
        b.ld_map(R1, "counts").mov(R2, R10).add(R2, K_PID).mov(R3, R10).add(R3, K_PID - 8).mov(R4, 0)
        b.call("map_update_elem")
    b.label("out")
    return b.ret(0).build()


def read_samples(prog, offsets: bool = False) -> list[StackSample]:
    """The counts map, symbolised (kernel frames via KernelSymbolizer, user frames via one ProcessSymbolizer per
    pid), smallest count first as bcc prints them."""
    from pyebpf.system.symbolize import KernelSymbolizer, ProcessSymbolizer

    stacks, counts = prog.maps["stacks"], prog.maps["counts"]
    entries = list(counts.items())  # first: the program keeps sampling while kallsyms is read
    ksym = KernelSymbolizer()
    procs: dict[int, ProcessSymbolizer] = {}
    out = []
    for key, count in entries:
        pid = int(key.pid)
        user = procs.setdefault(pid, ProcessSymbolizer(pid))
        out.append(StackSample(pid, bytes(key.comm).split(b"\0")[0].decode(errors="replace"),
                               stack_frames(stacks, int(key.kernel_stack_id), ksym, offsets),
                               stack_frames(stacks, int(key.user_stack_id), user, offsets), int(count)))
    out.sort(key=lambda s: s.value)
    return out


def format_stacks(samples: list[StackSample]) -> str:
    """bcc profile's default output (delimited): kernel frames, `--`, user frames, `-  comm (pid)`, the count."""
    return stack_lines(samples, delimited=True)


def folded_stacks(samples: list[StackSample]) -> dict[tuple[str, ...], int]:
    """Root-first stacks as bcc's `profile -f -d` folds them: comm, user frames, '-', kernel frames."""
    return fold_samples(samples, delimited=True)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=5.0, help="how long to sample (default 5)")
    ap.add_argument("--hz", type=int, default=99, help="samples per second per CPU (default 99)")
    ap.add_argument("--pid", type=int, help="only this process")
    ap.add_argument("--folded", action="store_true", help="folded output, one line per stack")
    ap.add_argument("--svg", metavar="FILE", help="also write a flame graph SVG")
    ap.add_argument("--offsets", action="store_true", help="print symbol offsets (name+0x1c)")
    args = ap.parse_args(argv)
    if args.hz <= 0 or args.seconds < 0:
        ap.error("--hz must be > 0 and --seconds >= 0")

    from pyebpf.errors import PyebpfError
    from pyebpf.loader import load
    from pyebpf.loader.attach import attach_perf_event
    from pyebpf.system.flamegraph import flamegraph_svg, folded

    try:
        with load(build(args.pid)) as prog, attach_perf_event(prog, "cpu-clock", freq=args.hz):
            if not args.folded:
                print(f"Sampling at {args.hz} Hz on every CPU for {args.seconds:g}s... Hit Ctrl-C to end.",
                      flush=True)
            try:
                time.sleep(args.seconds)
            except KeyboardInterrupt:
                pass
            samples = read_samples(prog, args.offsets)
    except PyebpfError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    stacks = folded_stacks(samples)
    print(folded(stacks, leaf_first=False), end="") if args.folded else print(format_stacks(samples))
    if args.svg:
        try:
            with open(args.svg, "w") as f:
                f.write(flamegraph_svg(stacks, title="On-CPU profile"))
        except OSError as e:
            print(f"error: {args.svg}: {e.strerror}", file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
