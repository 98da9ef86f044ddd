"""A tour of how the eBPF verifier thinks: small programs, our verifier's log next to the kernel's.

    python examples/verifier_tour.py [--only NAME] [--width 70] [--no-kernel]

Each stop is a small program with one idea: a map lookup used without a NULL check, a map value read past its
end, a packet read without comparing against data_end, and a bounded loop (accepted: the verifier walks it).
For each, `pyebpf.verify(..., log_level=2)` prints our log (every instruction with the register state it
computed), and, where bpf() is permitted, the kernel's log of the same program is printed beside it. The last line
says whether the verdicts and the reasons agree; a disagreement is printed as such, not hidden. Then the program
runs in the VM, to show what the verifier's "no" would have prevented (or what the accepted program computes).
"""
from __future__ import annotations

import argparse
import ctypes
import itertools
import sys
from dataclasses import dataclass
from typing import Callable

from pyebpf import R0, R1, R2, R6, R10, Builder


@dataclass
class Stop:
    name: str
    lesson: str
    build: Callable[[], object]
    run_in_vm: Callable[[object], str]


def missing_null_check():
    b = Builder("xdp", name="null_check")
    b.map("counts", "hash", ctypes.c_uint32, ctypes.c_uint64, 16)
    b.store(R10 - 4, 0, "u32").ld_map(R1, "counts").mov(R2, R10).add(R2, -4).call("map_lookup_elem")
    b.load(R0, R0 + 0, "u64")                                      # r0 may be NULL: no check before the load
    return b.exit().build()


def map_value_out_of_bounds():
    b = Builder("xdp", name="value_oob")
    b.map("values", "array", ctypes.c_uint32, ctypes.c_uint64, 1)
    b.store(R10 - 4, 0, "u32").ld_map(R1, "values").mov(R2, R10).add(R2, -4).call("map_lookup_elem")
    with b.if_(R0 != 0):
        b.load(R0, R0 + 8, "u64")                                  # the value is 8 bytes: offset 8 is past it
    return b.exit().build()


def unbounded_packet_read():
    b = Builder("xdp", name="pkt_unbounded")
    b.load(R2, R1 + 0, "u32")                                      # data; data_end is never compared
    b.load(R0, R2 + 12, "u16")
    return b.exit().build()


def bounded_loop():
    b = Builder("xdp", name="bounded_loop")
    b.mov(R0, 0).mov(R6, 0)
    with b.while_(R6 < 5):                                         # the verifier follows every iteration
        b.add(R0, R6).add(R6, 1)
    return b.exit().build()


def _vm_run(program, **kw) -> str:
    from pyebpf import VM
    from pyebpf.errors import VmError

    try:
        res = VM(program).run(packet=bytes(64), **kw)
    except VmError as e:
        return f"the VM faults: {e}"
    return f"the VM returns r0 = {res.r0}"


STOPS = [
    Stop("null_check", "bpf_map_lookup_elem returns PTR_TO_MAP_VALUE_OR_NULL; it must be compared with 0 before "
         "it is dereferenced", missing_null_check, _vm_run),
    Stop("value_oob", "after the NULL check r0 is PTR_TO_MAP_VALUE with a known size: every access is checked "
         "against value_size", map_value_out_of_bounds, _vm_run),
    Stop("pkt_unbounded", "packet pointers carry a range r= proven by comparisons with data_end; without one, "
         "no byte is readable", unbounded_packet_read, lambda p: _vm_run_empty(p)),
    Stop("bounded_loop", "a loop is fine when the verifier can walk it to the end: r6 goes 0..5, each state "
         "is new", bounded_loop, _vm_run),
]


def _vm_run_empty(program) -> str:
    """The unbounded read on a packet too short for it."""
    from pyebpf import VM
    from pyebpf.errors import VmError

    try:
        return f"the VM returns r0 = {VM(program).run(packet=bytes(8)).r0} on an 8-byte packet"
    except VmError as e:
        return f"on an 8-byte packet the VM faults: {e}"


@dataclass
class Verdict:
    accepted: bool
    reason: str
    insn: int | None
    log: str


def ours(program) -> Verdict:
    import pyebpf

    res = pyebpf.verify(program, log_level=2, raise_on_reject=False)
    err = res.error
    return Verdict(res.accepted, err.message if err else "", err.insn if err else None, res.log)


def kernels(program) -> Verdict | None:
    """The kernel's verdict and level-2 log, or None where bpf() is not permitted."""
    from pyebpf.testing.kernel_probe import bpf_unavailable_reason

    if bpf_unavailable_reason() is not None:
        return None
    from pyebpf.loader import ProgramLoadError, load

    try:
        with load(program, log_level=2, log_size=1 << 22) as prog:
            return Verdict(True, "", None, prog.log)
    except ProgramLoadError as e:
        return Verdict(False, e.reason, e.insn, e.log)


def side_by_side(left: str, right: str, width: int) -> str:
    rows = [f"{'ours (pyebpf.verify, log_level=2)':<{width}} | kernel (BPF_PROG_LOAD, log_level=2)",
            f"{'-' * width}-+-{'-' * width}"]
    for a, b in itertools.zip_longest(left.splitlines(), right.splitlines(), fillvalue=""):
        a = a if len(a) <= width else a[:width - 1] + "~"
        rows.append(f"{a:<{width}} | {b}".rstrip())
    return "\n".join(rows)


def agreement(mine: Verdict, kernel: Verdict | None) -> str:
    if kernel is None:
        return "kernel: not permitted here (bpf() needs root or CAP_BPF); our verdict only"
    if mine.accepted != kernel.accepted:
        return (f"DISAGREE: we {'accept' if mine.accepted else 'reject'}, the kernel "
                f"{'accepts' if kernel.accepted else 'rejects'}")
    if mine.accepted:
        return "agree: both accept"
    if (mine.reason, mine.insn) == (kernel.reason, kernel.insn):
        return f"agree: both reject insn {mine.insn}: {mine.reason}"
    return (f"DIFFERENT REASONS: ours insn {mine.insn}: {mine.reason} / kernel insn {kernel.insn}: "
            f"{kernel.reason}")


def tour(stops: list[Stop], width: int, use_kernel: bool, out=sys.stdout) -> list[str]:
    """Print every stop; return the agreement line of each."""
    results = []
    for stop in stops:
        program = stop.build()
        mine = ours(program)
        kernel = kernels(program) if use_kernel else None
        print(f"== {stop.name}: {stop.lesson}", file=out)
        if kernel is not None:
            print(side_by_side(mine.log.rstrip(), kernel.log.rstrip(), width), file=out)
        else:
            print(mine.log.rstrip(), file=out)
        line = agreement(mine, kernel)
        results.append(line)
        print(f"-> {line}", file=out)
        print(f"-> in the VM: {stop.run_in_vm(program)}\n", file=out)
    return results


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", choices=[s.name for s in STOPS], help="one stop of the tour")
    ap.add_argument("--width", type=int, default=70, help="column width of our log (default 70)")
    ap.add_argument("--no-kernel", action="store_true", help="our verifier only")
    args = ap.parse_args(argv)
    stops = [s for s in STOPS if args.only in (None, s.name)]
    tour(stops, args.width, not args.no_kernel)
    return 0


if __name__ == "__main__":
    sys.exit(main())
