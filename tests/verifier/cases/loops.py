"""Loops: bounded loops (privileged) and their rejection unprivileged, loops the verifier cannot bound,
infinite loops, nested loops, loops over the stack, bpf_loop callbacks, and the 1M-instruction complexity limit."""
from __future__ import annotations

from cases import REJECT, Case


#: seconds for programs our engine cannot finish (the 1M-instruction limit): enough to see that it does not
NO_FINISH = 3


def loop(name: str, body: str, priv_ok: bool = True, slow: float = 0, **kw) -> list[Case]:
    """The loop privileged (verdict as documented) and unprivileged (back-edge); `slow`: the privileged run
    goes to the complexity limit."""
    return [Case(name, body, expect="accept" if priv_ok else REJECT, slow=slow, **kw),
            Case(name, body, privileged=False, expect=REJECT, **kw)]


CASES = [
    *loop("loop_count_10", "  r1 = 0\nl:\n  r1 += 1\n  if r1 < 10 goto l\n  r0 = 0\n  exit\n"),
    *loop("loop_count_down", "  r1 = 100\nl:\n  r1 -= 1\n  if r1 != 0 goto l\n  r0 = 0\n  exit\n"),
    *loop("loop_count_32bit", "  w1 = 0\nl:\n  w1 += 1\n  if w1 < 50 goto l\n  r0 = 0\n  exit\n"),
    *loop("loop_sum_into_r0", "  r0 = 0\n  r1 = 0\nl:\n  r0 += r1\n  r1 += 1\n  if r1 < 20 goto l\n  exit\n"),
    *loop("loop_nested", "  r1 = 0\no:\n  r2 = 0\ni:\n  r2 += 1\n  if r2 < 5 goto i\n  r1 += 1\n  if r1 < 5 goto o\n"
          "  r0 = 0\n  exit\n"),
    *loop("loop_stack_fill", "  r1 = 0\n  r2 = r10\n  r2 += -64\nl:\n  r3 = 0\n  *(u64 *)(r2 + 0) = r3\n"
          "  r2 += 8\n  r1 += 1\n  if r1 < 8 goto l\n  r0 = *(u64 *)(r10 - 8)\n  exit\n"),
    *loop("loop_stack_overrun", "  r1 = 0\n  r2 = r10\n  r2 += -64\nl:\n  r3 = 0\n  *(u64 *)(r2 + 0) = r3\n"
          "  r2 += 8\n  r1 += 1\n  if r1 < 9 goto l\n  r0 = 0\n  exit\n", priv_ok=False),
    *loop("loop_infinite_no_progress", "  r1 = 0\nl:\n  r1 += 0\n  if r1 < 10 goto l\n  r0 = 0\n  exit\n",
          priv_ok=False),
    *loop("loop_unconditional", "  r0 = 0\nl:\n  r0 += 1\n  goto l\n", priv_ok=False, slow=NO_FINISH),
    *loop("loop_bound_from_ctx_masked", "  r2 = *(u32 *)(r1 + 0)\n  r2 &= 15\n  r1 = 0\nl:\n  r1 += 1\n"
          "  if r1 < r2 goto l\n  r0 = 0\n  exit\n"),
    *loop("loop_while_not_equal_odd", "  r1 = 0\nl:\n  r1 += 2\n  if r1 != 9 goto l\n  r0 = 0\n  exit\n",
          priv_ok=False, slow=NO_FINISH),
    *loop("loop_bpf_loop_callback", "  r1 = 10\n  r2 = cb ll\n  r3 = 0\n  r4 = 0\n  call bpf_loop\n  r0 = 0\n"
          "  exit\ncb:\n  r0 = 0\n  exit\n"),
    *loop("loop_bpf_loop_callback_bad_return", "  r1 = 10\n  r2 = cb ll\n  r3 = 0\n  r4 = 0\n  call bpf_loop\n"
          "  r0 = 0\n  exit\ncb:\n  r0 = 5\n  exit\n", priv_ok=False),
    Case("loop_complexity_limit", "  r7 = 0\nl:\n  r7 += 1\n  if r7 < 0x7fffffff goto l\n  r0 = 0\n  exit\n",
         expect=REJECT, slow=NO_FINISH),
    # a fresh unknown branch per iteration: 8193 pending states before the loop ends (~50k instructions)
    Case("loop_jump_sequence_limit", "  r6 = r1\n  r7 = 0\nl:\n  r0 = *(u32 *)(r6 + 0)\n  if r0 > 10 goto +1\n"
         "  r7 += 1\n  r7 += 1\n  if r7 < 0x7fffffff goto l\n  r0 = 0\n  exit\n", expect=REJECT, slow=30),
]
