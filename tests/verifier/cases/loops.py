"""Loops: bounded loops (privileged) and their rejection unprivileged, loops the verifier cannot bound,
infinite loops, nested loops, loops over the stack, bpf_loop callbacks, and the 1M-instruction complexity limit."""
from __future__ import annotations

from cases import REJECT, Case
from cases._util import MAP_ARRAY, MAP_HASH


#: seconds our engine may take to reach the kernel's 1M-processed-instruction limit (30-50 s each on a loaded dev
#: machine; the budget leaves room for a slower CI machine and only cuts off a regression)
COMPLEXITY_BUDGET = 120


def loop(name: str, body: str, priv_ok: bool = True, slow: float = 0, **kw) -> list[Case]:
    """The loop privileged (verdict as documented) and unprivileged (back-edge); `slow`: the privileged run
    goes to the complexity limit."""
    return [Case(name, body, expect="accept" if priv_ok else REJECT, slow=slow, **kw),
            Case(name, body, privileged=False, expect=REJECT, **kw)]


def bpf_loop(name: str, cb: str, n: str = "10", ctx: str = "  r3 = 0\n", expect: str = "accept",
             before: str = "", after: str = "  r0 = 0\n") -> Case:
    """bpf_loop(n, cb, ctx, 0) from the main program, then `after`; `cb` is the callback's body."""
    return Case(name, f"{before}  r1 = {n}\n  r2 = cb ll\n{ctx}  r4 = 0\n  call bpf_loop\n{after}  exit\ncb:\n{cb}",
                expect=expect)


def for_each(name: str, cb: str, maps: str = MAP_HASH, m: str = "m", expect: str = "accept") -> Case:
    """bpf_for_each_map_elem(map, cb, NULL, 0); `cb` gets R1 map, R2 key, R3 value, R4 ctx."""
    return Case(name, f"{maps}  r1 = map[{m}] ll\n  r2 = cb ll\n  r3 = 0\n  r4 = 0\n  call bpf_for_each_map_elem\n"
                      f"  r0 = 0\n  exit\ncb:\n{cb}", expect=expect)


_STACK_CTX = "  r3 = 7\n  *(u64 *)(r10 - 8) = r3\n  r3 = r10\n  r3 += -8\n"
#: Callback helpers (privileged only: they need CAP_BPF): the callback is verified as a frame with its
#: arguments typed by the helper, must return a scalar in [0, 1], and counts toward the call depth.
CALLBACKS = [
    bpf_loop("callback_loop_reads_stack_ctx", "  r0 = *(u64 *)(r2 + 0)\n  r0 = 0\n  exit\n", ctx=_STACK_CTX),
    bpf_loop("callback_loop_writes_stack_ctx", "  *(u64 *)(r2 + 0) = r1\n  r0 = 0\n  exit\n", ctx=_STACK_CTX,
             after="  r0 = *(u64 *)(r10 - 8)\n  r0 = 0\n"),
    bpf_loop("callback_loop_deref_scalar_ctx", "  r0 = *(u64 *)(r2 + 0)\n  r0 = 0\n  exit\n", expect=REJECT),
    bpf_loop("callback_loop_ctx_out_of_bounds", "  r0 = *(u64 *)(r2 + 8)\n  r0 = 0\n  exit\n", ctx=_STACK_CTX,
             expect=REJECT),
    bpf_loop("callback_loop_reads_uninit_caller_stack", "  r0 = *(u64 *)(r2 + 0)\n  r0 = 0\n  exit\n",
             ctx="  r3 = r10\n  r3 += -16\n", before="  r5 = 0\n  *(u64 *)(r10 - 8) = r5\n"),
    bpf_loop("callback_loop_reads_own_uninit_stack", "  r0 = *(u64 *)(r10 - 8)\n  r0 = 0\n  exit\n"),
    bpf_loop("callback_loop_index_is_scalar", "  r0 = r1\n  r0 &= 1\n  exit\n"),
    bpf_loop("callback_loop_returns_index", "  r0 = r1\n  exit\n", expect=REJECT),
    bpf_loop("callback_loop_returns_5_after_zero_iterations", "  r0 = 5\n  exit\n", n="0"),
    bpf_loop("callback_loop_returns_1", "  r0 = 1\n  exit\n"),
    bpf_loop("callback_loop_returns_r0_unset", "  exit\n", expect=REJECT),
    bpf_loop("callback_loop_returns_stack_pointer", "  r0 = r10\n  exit\n", expect=REJECT),
    bpf_loop("callback_loop_returns_ctx_pointer", "  r0 = r2\n  exit\n", ctx=_STACK_CTX, expect=REJECT),
    bpf_loop("callback_loop_r3_unset_in_callback", "  r0 = r3\n  r0 = 0\n  exit\n", expect=REJECT),
    bpf_loop("callback_loop_nested", "  r1 = 3\n  r2 = cb2 ll\n  r3 = 0\n  r4 = 0\n  call bpf_loop\n  r0 = 0\n"
             "  exit\ncb2:\n  r0 = 0\n  exit\n"),
    bpf_loop("callback_loop_caller_regs_kept", "  r0 = 0\n  exit\n", before="  r6 = 3\n",
             after="  r0 = r6\n  r0 -= 3\n"),
    for_each("callback_for_each_hash_value", "  r0 = *(u64 *)(r3 + 0)\n  r0 = *(u32 *)(r2 + 0)\n  r0 = 0\n  exit\n"),
    for_each("callback_for_each_value_out_of_bounds", "  r0 = *(u64 *)(r3 + 8)\n  r0 = 0\n  exit\n",
             expect=REJECT),
    for_each("callback_for_each_key_out_of_bounds", "  r0 = *(u32 *)(r2 + 4)\n  r0 = 0\n  exit\n", expect=REJECT),
    for_each("callback_for_each_writes_value", "  r5 = 1\n  *(u64 *)(r3 + 0) = r5\n  r0 = 0\n  exit\n"),
    for_each("callback_for_each_array_value", "  r0 = *(u64 *)(r3 + 8)\n  r0 = 0\n  exit\n", maps=MAP_ARRAY, m="a"),
    for_each("callback_for_each_ctx_null_deref", "  r0 = *(u64 *)(r4 + 0)\n  r0 = 0\n  exit\n", expect=REJECT),
    for_each("callback_for_each_map_arg_is_map", "  r2 = r10\n  r2 += -4\n  r5 = 0\n  *(u32 *)(r10 - 4) = r5\n"
             "  call bpf_map_lookup_elem\n  r0 = 0\n  exit\n"),
    for_each("callback_for_each_returns_2", "  r0 = 2\n  exit\n", expect=REJECT),
    Case("callback_timer_map_without_btf", MAP_ARRAY + "  r1 = 0\n  *(u32 *)(r10 - 4) = r1\n  r2 = r10\n  r2 += -4\n"
         "  r1 = map[a] ll\n  call bpf_map_lookup_elem\n  if r0 == 0 goto o\n  r1 = r0\n  r2 = cb ll\n"
         "  call bpf_timer_set_callback\no:\n  r0 = 0\n  exit\ncb:\n  r0 = 0\n  exit\n", prog_type="tracepoint",
         expect=REJECT),
    # the callback's frame stacks on its caller's: 256 + 384 bytes is over MAX_BPF_STACK
    bpf_loop("callback_loop_combined_stack_too_large", "  r1 = 0\n  *(u64 *)(r10 - 384) = r1\n  r0 = 0\n  exit\n",
             n="2", before="  r1 = 0\n  *(u64 *)(r10 - 256) = r1\n", expect=REJECT),
    bpf_loop("callback_loop_combined_stack_fits", "  r1 = 0\n  *(u64 *)(r10 - 384) = r1\n  r0 = 0\n  exit\n",
             n="2", before="  r1 = 0\n  *(u64 *)(r10 - 128) = r1\n"),
    # 7 nested bpf-to-bpf calls: the callback would be the 9th frame
    Case("callback_loop_frame_depth", "  call f1\n  r0 = 0\n  exit\n"
         + "".join(f"f{i}:\n  call f{i + 1}\n  r0 = 0\n  exit\n" for i in range(1, 7))
         + "f7:\n  r1 = 1\n  r2 = cb ll\n  r3 = 0\n  r4 = 0\n  call bpf_loop\n  r0 = 0\n  exit\n"
         + "cb:\n  r0 = 0\n  exit\n", expect=REJECT),
]


#: programs whose callback state changes between visits (the iteration must go on until it repeats), callbacks
#: that call subprograms, and bpf_user_ringbuf_drain's dynptr argument
CALLBACK_ITERATIONS = [
    Case("callback_loop_second_iteration_deref",
         '  r1 = 0\n  *(u64 *)(r10 - 8) = r1\n  r1 = 10\n  r2 = cb ll\n  r3 = r10\n  r3 += -8\n  r4 = 0\n'
         '  call bpf_loop\n  r0 = 0\n  exit\ncb:\n  r3 = *(u64 *)(r2 + 0)\n  if r3 != 0 goto d\n  r3 = 1\n'
         '  *(u64 *)(r2 + 0) = r3\n  r0 = 0\n  exit\nd:\n  r0 = *(u64 *)(r3 + 0)\n  r0 = 0\n  exit\n', expect=REJECT),
    Case("callback_loop_counter_bounded_by_loop",
         '  r1 = 0\n  *(u64 *)(r10 - 8) = r1\n  r1 = 4\n  r2 = cb ll\n  r3 = r10\n  r3 += -8\n  r4 = 0\n'
         '  call bpf_loop\n  r0 = 0\n  exit\ncb:\n  r3 = *(u64 *)(r2 + 0)\n  r3 += 1\n'
         '  *(u64 *)(r2 + 0) = r3\n  r0 = 0\n  exit\n'),
    Case("callback_loop_counter_index_overflow",
         '  r1 = 0\n  *(u64 *)(r10 - 8) = r1\n  *(u64 *)(r10 - 16) = r1\n  r1 = 20\n  r2 = cb ll\n'
         '  r3 = r10\n  r3 += -16\n  r4 = 0\n  call bpf_loop\n  r0 = 0\n  exit\ncb:\n'
         '  r3 = *(u64 *)(r2 + 8)\n  r4 = r2\n  r4 += r3\n  r5 = *(u8 *)(r4 + 0)\n  r3 += 1\n'
         '  *(u64 *)(r2 + 8) = r3\n  r0 = 0\n  exit\n', expect=REJECT),
    Case("callback_loop_loop_count_unknown",
         '  r6 = r1\n  r1 = *(u32 *)(r6 + 0)\n  r2 = cb ll\n  r3 = 0\n  r4 = 0\n  call bpf_loop\n  r0 = 0\n'
         '  exit\ncb:\n  r0 = 1\n  exit\n'),
    Case("callback_loop_callback_calls_subprog",
         '  r1 = 3\n  r2 = cb ll\n  r3 = 0\n  r4 = 0\n  call bpf_loop\n  r0 = 0\n  exit\ncb:\n  call g\n'
         '  exit\ng:\n  r0 = 0\n  exit\n'),
    Case("callback_loop_callback_ret_from_subprog_bad",
         '  r1 = 3\n  r2 = cb ll\n  r3 = 0\n  r4 = 0\n  call bpf_loop\n  r0 = 0\n  exit\ncb:\n  call g\n'
         '  exit\ng:\n  r0 = 3\n  exit\n', expect=REJECT),
    Case("callback_loop_main_uses_loop_result",
         '  r1 = 3\n  r2 = cb ll\n  r3 = 0\n  r4 = 0\n  call bpf_loop\n  exit\ncb:\n  r0 = 0\n  exit\n'),
    Case("callback_user_ringbuf_ok",
         '.map u user_ringbuf key=0 value=0 max_entries=4096\n  r1 = map[u] ll\n  r2 = cb ll\n  r3 = 0\n'
         '  r4 = 0\n  call bpf_user_ringbuf_drain\n  r0 = 0\n  exit\ncb:\n  r0 = 0\n  exit\n', prog_type="tracepoint"),
    Case("callback_user_ringbuf_ret2",
         '.map u user_ringbuf key=0 value=0 max_entries=4096\n  r1 = map[u] ll\n  r2 = cb ll\n  r3 = 0\n'
         '  r4 = 0\n  call bpf_user_ringbuf_drain\n  r0 = 0\n  exit\ncb:\n  r0 = 2\n  exit\n',
         prog_type="tracepoint", expect=REJECT),
    Case("callback_user_ringbuf_deref_dynptr",
         '.map u user_ringbuf key=0 value=0 max_entries=4096\n  r1 = map[u] ll\n  r2 = cb ll\n  r3 = 0\n'
         '  r4 = 0\n  call bpf_user_ringbuf_drain\n  r0 = 0\n  exit\ncb:\n  r0 = *(u64 *)(r1 + 0)\n'
         '  r0 = 0\n  exit\n', prog_type="tracepoint", expect=REJECT),
    Case("callback_user_ringbuf_ctx_null",
         '.map u user_ringbuf key=0 value=0 max_entries=4096\n  r1 = map[u] ll\n  r2 = cb ll\n  r3 = 0\n'
         '  r4 = 0\n  call bpf_user_ringbuf_drain\n  r0 = 0\n  exit\ncb:\n  r0 = *(u64 *)(r2 + 0)\n'
         '  r0 = 0\n  exit\n', prog_type="tracepoint", expect=REJECT),
]


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
    *loop("loop_unconditional", "  r0 = 0\nl:\n  r0 += 1\n  goto l\n", priv_ok=False, slow=COMPLEXITY_BUDGET),
    *loop("loop_bound_from_ctx_masked", "  r2 = *(u32 *)(r1 + 0)\n  r2 &= 15\n  r1 = 0\nl:\n  r1 += 1\n"
          "  if r1 < r2 goto l\n  r0 = 0\n  exit\n"),
    *loop("loop_while_not_equal_odd", "  r1 = 0\nl:\n  r1 += 2\n  if r1 != 9 goto l\n  r0 = 0\n  exit\n",
          priv_ok=False, slow=COMPLEXITY_BUDGET),
    *loop("loop_bpf_loop_callback", "  r1 = 10\n  r2 = cb ll\n  r3 = 0\n  r4 = 0\n  call bpf_loop\n  r0 = 0\n"
          "  exit\ncb:\n  r0 = 0\n  exit\n"),
    *loop("loop_bpf_loop_callback_bad_return", "  r1 = 10\n  r2 = cb ll\n  r3 = 0\n  r4 = 0\n  call bpf_loop\n"
          "  r0 = 0\n  exit\ncb:\n  r0 = 5\n  exit\n", priv_ok=False),
    *CALLBACKS,
    *CALLBACK_ITERATIONS,
    Case("loop_complexity_limit", "  r7 = 0\nl:\n  r7 += 1\n  if r7 < 0x7fffffff goto l\n  r0 = 0\n  exit\n",
         expect=REJECT, slow=COMPLEXITY_BUDGET),
    # a fresh unknown branch per iteration: 8193 pending states before the loop ends (~50k instructions)
    Case("loop_jump_sequence_limit", "  r6 = r1\n  r7 = 0\nl:\n  r0 = *(u32 *)(r6 + 0)\n  if r0 > 10 goto +1\n"
         "  r7 += 1\n  r7 += 1\n  if r7 < 0x7fffffff goto l\n  r0 = 0\n  exit\n", expect=REJECT, slow=30),
]
