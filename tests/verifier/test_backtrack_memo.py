"""Precision backtracking keeps, per segment of the current path, the answer of each walk at the jumps it crosses
(precision._walk_segment), so that a loop asking for precision at every iteration does not walk all earlier
iterations again. The level-2 log walks every instruction without it (each step is logged): both must reach the
same verdict and the same statistics on loops whose counters and sums live on the stack, as loop3.c's do."""
from __future__ import annotations

from hypothesis import given, settings, strategies as st

from pyebpf.isa.assembler import assemble
from pyebpf.verifier import verify


def stack_loop(bound: int, step: int, use_ctx: bool, inner: int | None, sum_slot: bool,
               sum_branch: int | None = None) -> str:
    """A counter at fp-8 (and a sum at fp-16) read, bumped and written back every iteration, the loop compared
    against a bound held in a register set before it (so the backward walk for it crosses every iteration)."""
    body = ["r3 = *(u64 *)(r10 - 8)", f"r3 += {step}", "*(u64 *)(r10 - 8) = r3"]
    if sum_slot:
        body += ["r4 = *(u64 *)(r10 - 16)", "r5 = *(u32 *)(r1 + 0)" if use_ctx else "r5 = r3", "r4 += r5",
                 "*(u64 *)(r10 - 16) = r4"]
        if sum_branch is not None:  # a decision on the sum: its walk wants other bits than the counter's
            body += [f"if r4 > {sum_branch} goto +1", "r6 = 2"]
    if inner is not None:
        body += [f"if r3 == {inner} goto +1", "r6 = 1"]
    body += ["r3 = *(u64 *)(r10 - 8)", "if r3 < r2 goto l"]
    return "\n".join(["r2 = 0", "*(u64 *)(r10 - 8) = r2", "*(u64 *)(r10 - 16) = r2", "r6 = 0", f"r2 = {bound}",
                      "l:", *body, "r0 = *(u64 *)(r10 - 16)", "r0 &= 1", "exit"]) + "\n"


def _stats(program, log_level: int):
    r = verify(program, "socket_filter", raise_on_reject=False, log_level=log_level)
    return (r.accepted, r.error.message if r.error else "", r.processed, r.total_states, r.peak_states,
            r.max_states_per_insn)


@settings(max_examples=25, deadline=None)
@given(bound=st.integers(1, 60), step=st.integers(1, 3), use_ctx=st.booleans(),
       inner=st.none() | st.integers(0, 40), sum_slot=st.booleans(), sum_branch=st.none() | st.integers(0, 400))
def test_walks_with_kept_answers_equal_full_walks(bound, step, use_ctx, inner, sum_slot, sum_branch):
    program = assemble(stack_loop(bound, step, use_ctx, inner, sum_slot, sum_branch))
    assert _stats(program, 0) == _stats(program, 2)

