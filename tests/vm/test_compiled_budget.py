"""The compiled engine checks its instruction budget only at function entries and loop heads, handing a frame that
may run out before its next check to the interpreter: budget errors, counts and side effects must be the
interpreter's, instruction for instruction."""
from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

import pyebpf
from pyebpf.abi.maps import MapSpec
from pyebpf.errors import VmError
from pyebpf.vm import VM

#: a loop with a forward skip, stack traffic, a bpf-to-bpf call and a map update per iteration
PROGRAM = """
    r6 = {count}
    r7 = 0
loop:
    r7 += r6
    *(u64 *)(r10 - 8) = r7
    if r7 & 1 goto odd
    r7 += 3
odd:
    r1 = r6
    call sub
    r7 += r0
    *(u32 *)(r10 - 12) = 0
    *(u64 *)(r10 - 24) = r7
    r1 = map[counts]
    r2 = r10
    r2 += -12
    r3 = r10
    r3 += -24
    r4 = 0
    call bpf_map_update_elem
    r6 -= 1
    if r6 != 0 goto loop
    r0 = r7
    exit
sub:
    r0 = r1
    r0 *= 7
    r2 = *(u64 *)(r10 - 8)
    if r0 > {cut} goto big
    r0 += 1
big:
    exit
"""


def _outcome(engine: str, count: int, cut: int, max_insns: int) -> tuple:
    spec = MapSpec.of("counts", "array", 4, 8, 1)
    program = pyebpf.assemble(PROGRAM.format(count=count, cut=cut), maps={"counts": spec})
    vm = VM(program, engine=engine, max_insns=max_insns)
    try:
        res = vm.run()
        result: tuple = ("ok", res.r0, res.insns)
    except VmError as e:
        result = ("error", e.pc, e.message)
    return result + (bytes(vm.maps["counts"].lookup_raw(bytes(4))),)


@settings(max_examples=60, deadline=None)
@given(count=st.integers(1, 12), cut=st.integers(0, 60), max_insns=st.integers(1, 400))
def test_budget_errors_and_side_effects_match_the_interpreter(count: int, cut: int, max_insns: int) -> None:
    assert _outcome("compiled", count, cut, max_insns) == _outcome("interp", count, cut, max_insns)


def test_a_long_straight_run_is_checked_before_it_starts() -> None:
    """200 instructions without a loop, a budget of 150: the error names instruction 150 in both engines (the old
    per-block check named the block's first instruction)."""
    program = pyebpf.assemble("\n".join(["r0 = 0"] + ["r0 += 1"] * 198 + ["exit"]))
    errors = []
    for engine in ("interp", "compiled"):
        try:
            VM(program, engine=engine, max_insns=150).run()
        except VmError as e:
            errors.append((e.pc, e.message))
    assert len(errors) == 2 and errors[0] == errors[1] and errors[0][0] == 150
