"""The kernel's verification statistics, ours equal: processed instructions, max_states_per_insn, total_states and
peak_states on the same program — they only agree if precision tracking, pruning, checkpoint heuristics and stack
liveness do what the running kernel does. Expectations come from BPF_PROG_LOAD (log level BPF_LOG_STATS) in front
of the test, never from constants.

Programs: k independent if-blocks that each bump a counter nothing branches on (the kernel merges the paths because
the counter is imprecise), the same with branches that do refine a scalar, every example program, and the demo's
XDP program.
"""
from __future__ import annotations

import inspect
import re
import textwrap

import pytest

from example_runner import import_example
from pyebpf.isa.assembler import assemble
from pyebpf.verifier import verify

STATS = re.compile(r"processed (\d+) insns \(limit \d+\) max_states_per_insn (\d+) total_states (\d+) "
                   r"peak_states (\d+)")
LOG_STATS = 4


def independent_ifs(k: int) -> str:
    """k if-blocks on bits of an unknown u32, each bumping r7, which no branch reads (the issue's family)."""
    body = "".join(f"r2 = r6\nr2 &= {1 << (i % 31)}\nif r2 == 0 goto +1\nr7 += 1\n" for i in range(k))
    return "r6 = *(u32 *)(r1 + 0)\nr7 = 0\n" + body + "r0 = r7\nexit\n"


def refining_ifs(k: int) -> str:
    """k tests of one unknown against constants: each branch refines r6, so r6 becomes precise."""
    body = "".join(f"if r6 == {i} goto +1\nr7 += 1\n" for i in range(k))
    return "r6 = *(u32 *)(r1 + 0)\nr7 = 0\n" + body + "r0 = 0\nexit\n"


def kernel_stats(program) -> tuple[bool, tuple[int, ...]]:
    from pyebpf.loader import load
    from pyebpf.errors import LoaderError
    ptype = program.prog_type if program.prog_type is not None else "socket_filter"
    try:
        with load(program, ptype, log_level=LOG_STATS) as prog:
            log = prog.log or ""
        accepted = True
    except LoaderError as e:
        log = getattr(e, "log", "") or ""
        accepted = False
    m = STATS.search(log)
    assert m, f"no statistics in the kernel's log: {log[-500:]!r}"
    return accepted, tuple(int(x) for x in m.groups())


def our_stats(program) -> tuple[bool, tuple[int, ...]]:
    r = verify(program, program.prog_type if program.prog_type is not None else "socket_filter",
               raise_on_reject=False)
    return r.accepted, (r.processed, r.max_states_per_insn, r.total_states, r.peak_states)


def _assert_same(program, what: str) -> None:
    kern, ours = kernel_stats(program), our_stats(program)
    assert ours == kern, (f"{what}: (accepted, (processed, max_states_per_insn, total_states, peak_states)) "
                          f"kernel {kern}, ours {ours}")


@pytest.mark.kernel
@pytest.mark.parametrize("k", [1, 5, 10, 15, 40, 100])
def test_independent_ifs_processed_as_the_kernel(k):
    _assert_same(assemble(independent_ifs(k)), f"independent_ifs({k})")


@pytest.mark.kernel
@pytest.mark.parametrize("k", [3, 10, 15])
def test_refining_ifs_processed_as_the_kernel(k):
    _assert_same(assemble(refining_ifs(k)), f"refining_ifs({k})")


@pytest.mark.kernel
@pytest.mark.parametrize("src", [
    "r7 = 0\nl: r7 += 1\nif r7 < 300 goto l\nr0 = 0\nexit\n",            # a bounded loop: precise counter
    "r6 = *(u32 *)(r1 + 0)\nr7 = 0\nr8 = 0\nl: r8 += r6\nr7 += 1\nif r7 < 40 goto l\nr0 = 0\nexit\n",
    "r6 = *(u32 *)(r1 + 0)\n*(u64 *)(r10 - 8) = r6\nif r6 > 5 goto +2\nr1 = 1\n*(u64 *)(r10 - 16) = r1\n"
    "r0 = *(u64 *)(r10 - 8)\nif r0 > 9 goto +1\nr0 = 0\nexit\n",           # spills: precision through the stack
    "call f\nr0 = 0\nexit\nf:\nr1 = *(u32 *)(r1 + 0)\nif r1 > 3 goto +1\nr1 = 0\nr0 = r1\nexit\n",
])
def test_small_programs_processed_as_the_kernel(src):
    _assert_same(assemble(src), src.replace("\n", "; "))


LOOPS = [
    # the counter is compared on every iteration: each decided jump walks its precision back (verifier_speed's loop)
    "r6 = 0\nr7 = 0\nl: r2 = r6\nr2 &= 7\nr3 = r2\nr3 <<= 2\nr7 += r3\n*(u64 *)(r10 - 8) = r7\n"
    "r4 = *(u64 *)(r10 - 8)\nr6 += 1\nif r6 < 300 goto l\nr0 = 0\nexit\n",
    # nested: the inner counter restarts, the outer one is walked through the inner loop's history
    "r6 = 0\nr8 = 0\no: r7 = 0\ni: r8 += r7\nr7 += 1\nif r7 < 12 goto i\nr6 += 1\nif r6 < 9 goto o\nr0 = 0\nexit\n",
    # the counter reaches the comparison through a copy and a stack slot
    "r6 = 0\nl: *(u64 *)(r10 - 8) = r6\nr6 = *(u64 *)(r10 - 8)\nr2 = r6\nr6 += 2\nif r2 < 200 goto l\nr0 = 0\n"
    "exit\n",
    # two counters compared in one iteration: each walk wants another register at the same points
    "r6 = 0\nr8 = 0\nl: r6 += 1\nif r6 > 1000 goto +2\nr8 += 2\nif r8 < 400 goto l\nr0 = 0\nexit\n",
]


@pytest.mark.kernel
@pytest.mark.parametrize("src", LOOPS, ids=["spill-loop", "nested", "copied-counter", "two-counters"])
def test_loops_processed_as_the_kernel_with_and_without_a_log(src):
    """Backtracking keeps its answers per jump it crosses in the current segment (precision.py), except under a
    level-2 log, which prints every step: both ways count what the kernel counts."""
    program = assemble(src)
    kern = kernel_stats(program)
    for level in (0, 2):
        r = verify(program, "socket_filter", log_level=level, raise_on_reject=False)
        ours = r.accepted, (r.processed, r.max_states_per_insn, r.total_states, r.peak_states)
        assert ours == kern, f"log level {level}: kernel {kern}, ours {ours}"


def bpf_loop_visits(n: int) -> str:
    """bpf_loop(n) over a counter on the caller's stack: each callback visit counts (visits are not merged at the
    call), then branches on a random number and exits at once on the fall-through side. The taken side of the
    first visit is explored last and meets, at `p`, checkpoints of later visits only: func_states_equal does not
    let a frame further into its callback visits (callback_depth) cover one less far, so the kernel walks it."""
    return (f"r1 = 0\n*(u64 *)(r10 - 8) = r1\nr1 = {n}\nr2 = cb ll\nr3 = r10\nr3 += -8\nr4 = 0\ncall bpf_loop\n"
            "r0 = 0\nexit\ncb:\nr6 = *(u64 *)(r2 + 0)\nr6 += 1\n*(u64 *)(r2 + 0) = r6\ncall bpf_get_prandom_u32\n"
            "if r0 > 10 goto p\nr0 = 0\nexit\np:\nr7 = 1\nr7 += 1\nr7 += 1\nr0 = 0\nexit\n")


@pytest.mark.kernel
@pytest.mark.parametrize("n", [2, 5])
def test_callback_visits_processed_as_the_kernel(n):
    _assert_same(assemble(bpf_loop_visits(n)), f"bpf_loop_visits({n})")


EXAMPLE_BUILDERS = [
    ("offcpu", "build"), ("openat_counter", "build"), ("printk_write_by_pid", "build"),
    ("ringbuf_openat_events", "build"), ("tcp_retransmit_events", "build_owner_tracker"),
    ("tcp_retransmit_events", "build_tracepoint"), ("tcp_retransmit_events", "build_kprobe"),
    ("tracepoint_printk", "build"), ("verifier_tour", "missing_null_check"),
    ("verifier_tour", "map_value_out_of_bounds"), ("verifier_tour", "unbounded_packet_read"),
    ("verifier_tour", "bounded_loop"), ("xdp_count_packets", "build"),
]


@pytest.mark.kernel
@pytest.mark.parametrize("module,builder", EXAMPLE_BUILDERS, ids=[f"{m}.{b}" for m, b in EXAMPLE_BUILDERS])
def test_example_processed_as_the_kernel(module, builder):
    fn = getattr(import_example(module), builder)
    program = fn(1234) if inspect.signature(fn).parameters else fn()
    _assert_same(program, f"examples/{module}.py {builder}()")


@pytest.mark.kernel
def test_demo_xdp_processed_as_the_kernel():
    from pyebpf.commands.demo import XDP_SOURCE
    _assert_same(assemble(XDP_SOURCE), "pyebpf demo's XDP program")


# ---- frozen read-only maps: `const volatile` configuration is known ------------------------------------------------

def _rodata_program():
    """Branches on three config words of a frozen BPF_F_RDONLY_PROG array (debug=0, mode=2, limit=100); the
    paths for other values read beyond the stack frame, so only a verifier that knows the values accepts it."""
    from pyebpf.abi.maps import MapSpec, MapType
    from pyebpf.abi.uapi import MapCreateFlags
    src = """
        r6 = *(u32 *)(r1 + 0)
        r0 = 0
        r1 = map_value[cfg] + 0 ll
        r2 = *(u32 *)(r1 + 0)
        if r2 == 0 goto quiet
        r0 = *(u64 *)(r10 + 8)
    quiet:
        r3 = *(u32 *)(r1 + 4)
        if r3 != 2 goto other
        r4 = *(u32 *)(r1 + 8)
        if r6 > r4 goto big
        r0 = 2
        exit
    big:
        r0 = 1
        exit
    other:
        r0 = *(u64 *)(r10 + 8)
        exit
    """
    cfg = MapSpec("cfg", MapType.ARRAY, 4, 12, 1, flags=int(MapCreateFlags.RDONLY_PROG),
                  initial=(0).to_bytes(4, "little") + (2).to_bytes(4, "little") + (100).to_bytes(4, "little"))
    return assemble(textwrap.dedent(src), maps={"cfg": cfg})


@pytest.mark.kernel
def test_rodata_loads_are_constants_as_in_the_kernel():
    _assert_same(_rodata_program(), "branches on a frozen .rodata map")


@pytest.mark.kernel
def test_clang_rodata_object_processed_as_the_kernel(tmp_path):
    import shutil
    import subprocess
    from pathlib import Path
    from pyebpf.loader.elf import load_elf
    from pyebpf.testing.plugin import require_or_skip
    clang = next((p for p in map(shutil.which, ("clang", "clang-14")) if p), None)
    if clang is None:
        require_or_skip("clang is not installed (needed to build tests/verifier/c/rodata_config.bpf.c)")
    src = Path(__file__).parent / "c" / "rodata_config.bpf.c"
    obj_path = tmp_path / "rodata_config.o"
    subprocess.run([clang, "-O2", "-g", "-target", "bpf", "-I/usr/include/x86_64-linux-gnu", "-c", str(src), "-o",
                    str(obj_path)], check=True, capture_output=True)
    obj = load_elf(str(obj_path))
    try:
        program = obj.programs["prog"]
        ours = our_stats(program)
        obj.load(log_level=LOG_STATS)
        m = STATS.search(obj.loaded["prog"].log or "")
        assert m, "no statistics in the kernel's log"
        kern = (True, tuple(int(x) for x in m.groups()))
    finally:
        obj.close()
    assert ours == kern, f"kernel {kern}, ours {ours}"
