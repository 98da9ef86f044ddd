"""A verifier log pasted as is assembles back to the program the kernel verified.

The running kernel is the oracle: load a program with log_level 2, feed the whole log (liveness table, register
states, repeated paths, statistics) to the assembler, and expect the very instructions that were loaded.
"""
from __future__ import annotations

import pytest

from pyebpf.isa.assembler import assemble

LINEAR = """
    r6 = r1
    r1 = 42
    *(u64 *)(r10 - 8) = r1
    *(u32 *)(r10 - 16) = 7
    r2 = *(u64 *)(r10 - 8)
    r3 = *(s32 *)(r10 - 16)
    w4 = w3
    w4 += 5
    r4 = (s16)r4
    w4 = (s8)w4
    r2 s/= 3
    r2 s%= 5
    r5 = 1
    lock *(u64 *)(r10 - 8) += r5
    r5 = atomic_fetch_add((u64 *)(r10 - 8), r5)
    w5 = 3
    lock *(u32 *)(r10 - 16) |= w5
    w5 = xchg32_32(r10 - 16, w5)
    r0 = 0
    r0 = cmpxchg_64(r10 - 8, r0, r5)
    r2 = be16 r2
    r2 = le32 r2
    r2 = bswap32 r2
    r2 = -r2
    call bpf_ktime_get_ns
    r1 = 0x1122334455667788 ll
    r1 = 0x7 ll
    gotol +0
    goto +0
    r0 = 0
    exit
"""

BRANCHY = """
    r0 = 0
    r2 = *(u32 *)(r1 + 0)
    if r2 > 10 goto big
    if w2 s< 3 goto small
    r0 = 1
    goto out
small:
    r0 = 2
    goto out
big:
    r0 = 3
out:
    exit
"""


@pytest.mark.kernel
@pytest.mark.parametrize("source", [LINEAR, BRANCHY], ids=["linear", "branchy"])
def test_verifier_log_reassembles_to_the_loaded_program(source):
    from pyebpf.loader.program import load

    program = assemble(source)
    loaded = load(program, "socket_filter", log_level=2)
    try:
        log = loaded.log
    finally:
        loaded.close()
    assert "(95) exit" in log
    again = assemble(log, "kernel")
    assert again.instructions == program.instructions
    assert assemble(log).instructions == program.instructions


# A 6.18 log (log_level 2) recorded from the kernel, so the form is covered where bpf() is not permitted.
RECORDED = """\
func#0 @0
Live regs before insn:
      0: .1........ (bf) r6 = r1
      1: .......... (b7) r0 = 0
      2: .......... (85) call bpf_ktime_get_ns#5
      3: 0......... (18) r1 = 0x1122334455667788
      5: 0......... (95) exit
0: R1=ctx() R10=fp0
0: (bf) r6 = r1                       ; R1=ctx() R6=ctx()
1: (b7) r0 = 0                        ; R0=0
2: (85) call bpf_ktime_get_ns#5      ; R0=scalar()
3: (18) r1 = 0x1122334455667788      ; R1=0x1122334455667788
5: (95) exit
(0) frame 0 insn 0 +live -8
(0) live stack update done in 2 iterations
processed 5 insns (limit 1000000) max_states_per_insn 0 total_states 0 peak_states 0 mark_read 0
"""


def test_recorded_log_reassembles():
    program = assemble(RECORDED)
    assert program.to_bytes().hex() == (
        "bf16000000000000" "b700000000000000" "8500000005000000"
        "1801000088776655" "0000000044332211" "9500000000000000")


def test_a_log_that_skips_slots_is_an_error():
    with pytest.raises(Exception) as e:
        assemble("0: (b7) r0 = 0\n3: (95) exit\n", "kernel")
    assert "leaves out slots 1..2" in str(e.value)
