"""bpf-to-bpf calls (arguments, return values, stack pointers into the caller's frame, frame depth, callee-saved
registers) and tail calls (prog_array maps, argument types, program types)."""
from __future__ import annotations

from cases import REJECT, Case
from cases._util import EXIT, MOV0, I, raw

PA = ".map jt prog_array key=4 value=4 max_entries=4\n"


def ok(name: str, src: str, **kw) -> Case:
    return Case(name, src, **kw)


def bad(name: str, src: str, **kw) -> Case:
    return Case(name, src, expect=REJECT, **kw)


#: bounded_recursion style: a subprogram that calls itself until a counter runs out; do_check follows it for the
#: few levels it runs, then check_max_stack_depth's walk of the call graph meets the cycle (never Python recursion)
RECURSE = ("  r1 = 0\n  call f\n  r0 = 0\n  exit\nf:\n  if r1 > {n} goto +2\n  r1 += 1\n  call f\n  r0 = 0\n"
           "  exit\n")

CASES = [
    # src_reg of a call is 0 (helper), 1 (bpf-to-bpf) or 2 (kfunc); anything else is a reserved field
    Case("call_src_reg_3", raw(I(0x85, 0, 3, 0, 0), MOV0, EXIT), prog_type="tracepoint", expect=REJECT),
    Case("call_src_reg_7", raw(I(0x85, 0, 7, 0, 1), MOV0, EXIT), expect=REJECT),
    bad("call_bounded_recursion_3", RECURSE.format(n=3)),
    bad("call_bounded_recursion_5", RECURSE.format(n=5)),
    bad("call_bounded_recursion_12", RECURSE.format(n=12)),
    bad("call_bounded_recursion_stack", "  r1 = 0\n  call f\n  r0 = 0\n  exit\nf:\n  *(u64 *)(r10 - 128) = r1\n"
        "  if r1 > 2 goto +2\n  r1 += 1\n  call f\n  r0 = 0\n  exit\n"),
    bad("call_mutual_recursion", "  r1 = 0\n  call f\n  r0 = 0\n  exit\nf:\n  if r1 > 1 goto +2\n  r1 += 1\n"
        "  call g\n  r0 = 0\n  exit\ng:\n  call f\n  r0 = 0\n  exit\n"),
    ok("call_chain_7_frames", "".join(f"  call f{i}\n  r0 = 0\n  exit\nf{i}:\n" for i in range(7))
       + "  r0 = 0\n  exit\n"),
    bad("call_chain_8_frames", "".join(f"  call f{i}\n  r0 = 0\n  exit\nf{i}:\n" for i in range(8))
        + "  r0 = 0\n  exit\n"),
    ok("call_passes_ctx", "  call f\n  exit\nf:\n  r0 = *(u32 *)(r1 + 0)\n  exit\n"),
    ok("call_returns_scalar", "  call f\n  r0 += 1\n  exit\nf:\n  r0 = 7\n  exit\n"),
    bad("call_callee_r0_uninit", "  call f\n  exit\nf:\n  exit\n"),
    bad("call_caller_r1_clobbered", "  r6 = r1\n  call f\n  r0 = *(u32 *)(r1 + 0)\n  exit\nf:\n  r0 = 0\n  exit\n"),
    ok("call_callee_r0_uninit_unused", "  call f\n  r0 = 0\n  exit\nf:\n  exit\n"),
    ok("call_callee_r0_uninit_unused_no_btf", "  call f\n  r0 = 0\n  exit\nf:\n  exit\n", btf=False),
    ok("call_caller_r6_preserved", "  r6 = r1\n  call f\n  r0 = *(u32 *)(r6 + 0)\n  exit\nf:\n  r6 = 0\n  r0 = 0\n"
       "  exit\n"),
    bad("call_callee_r3_uninit", "  call f\n  exit\nf:\n  r0 = r3\n  exit\n"),
    bad("call_callee_r6_uninit", "  r6 = 1\n  call f\n  r0 = 0\n  exit\nf:\n  r0 = r6\n  exit\n"),
    ok("call_callee_reads_r2", "  r2 = 1\n  call f\n  exit\nf:\n  r0 = r2\n  exit\n"),
    ok("call_callee_reads_caller_stack", "  r1 = 5\n  *(u64 *)(r10 - 8) = r1\n  r1 = r10\n  r1 += -8\n  call f\n"
       "  exit\nf:\n  r0 = *(u64 *)(r1 + 0)\n  exit\n"),
    ok("call_callee_writes_caller_stack", "  r1 = r10\n  r1 += -8\n  call f\n  r0 = *(u64 *)(r10 - 8)\n  exit\n"
       "f:\n  r2 = 3\n  *(u64 *)(r1 + 0) = r2\n  r0 = 0\n  exit\n"),
    bad("call_callee_returns_stack_ptr", "  call f\n  r1 = *(u64 *)(r0 + 0)\n  r0 = 0\n  exit\nf:\n  r0 = r10\n"
        "  r0 += -8\n  exit\n"),
    bad("call_callee_reads_caller_stack_oob", "  r1 = r10\n  r1 += -8\n  call f\n  exit\nf:\n"
        "  r0 = *(u64 *)(r1 + 8)\n  exit\n"),
    ok("call_returns_map_value", ".map m hash key=4 value=8 max_entries=4\n  call f\n  if r0 == 0 goto +1\n"
       "  r0 = *(u64 *)(r0 + 0)\n  r0 = 0\n  exit\nf:\n  r1 = 0\n  *(u32 *)(r10 - 4) = r1\n  r2 = r10\n"
       "  r2 += -4\n  r1 = map[m] ll\n  call bpf_map_lookup_elem\n  exit\n"),
    bad("call_returns_map_value_unchecked", ".map m hash key=4 value=8 max_entries=4\n  call f\n"
        "  r0 = *(u64 *)(r0 + 0)\n  r0 = 0\n  exit\nf:\n  r1 = 0\n  *(u32 *)(r10 - 4) = r1\n  r2 = r10\n"
        "  r2 += -4\n  r1 = map[m] ll\n  call bpf_map_lookup_elem\n  exit\n"),
    ok("call_two_callees", "  call f\n  call g\n  exit\nf:\n  r0 = 1\n  exit\ng:\n  r0 = 2\n  exit\n"),
    ok("call_same_callee_twice", "  r1 = 1\n  call f\n  r1 = 2\n  call f\n  exit\nf:\n  r0 = r1\n  exit\n"),
    ok("call_branch_in_callee", "  call f\n  exit\nf:\n  r0 = 0\n  if r1 == 0 goto +1\n  r0 = 1\n  exit\n"),
    ok("call_stack_512_each_of_two", "  r1 = 0\n  *(u64 *)(r10 - 256) = r1\n  call f\n  r0 = 0\n  exit\nf:\n"
       "  r1 = 0\n  *(u64 *)(r10 - 248) = r1\n  r0 = 0\n  exit\n"),
    bad("call_stack_combined_over_512", "  r1 = 0\n  *(u64 *)(r10 - 264) = r1\n  call f\n  r0 = 0\n  exit\nf:\n"
        "  r1 = 0\n  *(u64 *)(r10 - 256) = r1\n  r0 = 0\n  exit\n"),
    bad("call_ld_abs_in_subprog_no_btf", "  r6 = r1\n  call f\n  exit\nf:\n  r0 = *(u8 *)skb[0]\n  r0 = 0\n  exit\n",
        btf=False),
    bad("call_tail_call_in_subprog_no_btf", PA + "  call f\n  exit\nf:\n  r2 = map[jt] ll\n  r3 = 0\n"
        "  call bpf_tail_call\n  r0 = 0\n  exit\n", btf=False),
    # check_abnormal_return without func_info: every subprogram's range counts, reachable or not; the first wins
    bad("call_ld_ind_in_subprog_no_btf", "  r6 = r1\n  call f\n  exit\nf:\n  r7 = 0\n  r0 = *(u8 *)skb[r7 + 0]\n"
        "  r0 = 0\n  exit\n", btf=False),
    bad("call_tail_call_dead_in_subprog_no_btf", PA + "  call f\n  exit\nf:\n  r0 = 0\n  exit\n"
        "  r2 = map[jt] ll\n  r3 = 0\n  call bpf_tail_call\n  r0 = 0\n  exit\n", btf=False),
    bad("call_tail_call_then_ld_abs_no_btf", PA + "  r6 = r1\n  call f\n  call g\n  exit\nf:\n  r2 = map[jt] ll\n"
        "  r3 = 0\n  call bpf_tail_call\n  r0 = 0\n  exit\ng:\n  r0 = *(u8 *)skb[0]\n  r0 = 0\n  exit\n",
        btf=False),
    ok("call_tail_call_in_main_no_btf", PA + "  r2 = map[jt] ll\n  r3 = 0\n  call bpf_tail_call\n  call f\n"
       "  exit\nf:\n  r0 = 0\n  exit\n", btf=False),
    # check_ld_imm: a callback's address needs func_info
    bad("call_bpf_loop_callback_no_btf", "  r1 = 10\n  r2 = cb ll\n  r3 = 0\n  r4 = 0\n  call bpf_loop\n  r0 = 0\n"
        "  exit\ncb:\n  r0 = 0\n  exit\n", prog_type="tracepoint", btf=False),
    bad("call_ld_abs_in_subprog", "  r6 = r1\n  call f\n  exit\nf:\n  r0 = *(u8 *)skb[0]\n  r0 = 0\n  exit\n"),
    ok("call_packet_pointer_arg", "  r2 = *(u32 *)(r1 + 76)\n  r3 = *(u32 *)(r1 + 80)\n  r4 = r2\n  r4 += 4\n"
       "  if r4 > r3 goto +2\n  r1 = r2\n  call f\n  r0 = 0\n  exit\nf:\n  r0 = *(u32 *)(r1 + 0)\n  exit\n",
       prog_type="sched_cls"),
    # tail calls
    ok("tail_call_ok", PA + "  r2 = map[jt] ll\n  r3 = 0\n  call bpf_tail_call\n  r0 = 0\n  exit\n"),
    ok("tail_call_ok_unpriv", PA + "  r2 = map[jt] ll\n  r3 = 0\n  call bpf_tail_call\n  r0 = 0\n  exit\n",
       privileged=False),
    ok("tail_call_xdp", PA + "  r2 = map[jt] ll\n  r3 = 1\n  call bpf_tail_call\n  r0 = 2\n  exit\n", prog_type="xdp"),
    ok("tail_call_kprobe", PA + "  r2 = map[jt] ll\n  r3 = 1\n  call bpf_tail_call\n  r0 = 0\n  exit\n",
       prog_type="kprobe"),
    bad("tail_call_wrong_map", ".map m hash key=4 value=8 max_entries=4\n  r2 = map[m] ll\n  r3 = 0\n"
        "  call bpf_tail_call\n  r0 = 0\n  exit\n"),
    bad("tail_call_ctx_not_ctx", PA + "  r1 = r10\n  r2 = map[jt] ll\n  r3 = 0\n  call bpf_tail_call\n  r0 = 0\n"
        "  exit\n"),
    bad("tail_call_index_uninit", PA + "  r2 = map[jt] ll\n  call bpf_tail_call\n  r0 = 0\n  exit\n"),
    bad("tail_call_map_scalar", "  r2 = 0\n  r3 = 0\n  call bpf_tail_call\n  r0 = 0\n  exit\n"),
    bad("tail_call_r0_after", PA + "  r2 = map[jt] ll\n  r3 = 0\n  call bpf_tail_call\n  exit\n"),
    ok("tail_call_in_subprog", PA + "  call f\n  exit\nf:\n  r2 = map[jt] ll\n  r3 = 0\n  call bpf_tail_call\n"
       "  r0 = 0\n  exit\n"),
    bad("tail_call_map_value_lookup", PA + "  r1 = 0\n  *(u32 *)(r10 - 4) = r1\n  r2 = r10\n  r2 += -4\n"
        "  r1 = map[jt] ll\n  call bpf_map_lookup_elem\n  r0 = 0\n  exit\n"),
]


def _kfunc(imm: int, off: int = 0, license: str = "GPL", before=(), after=None):
    """A kfunc call (src 2) with BTF id `imm` and module-BTF offset `off` (no fd_array)."""
    from pyebpf.isa.program import Program
    from cases._util import EXIT, MOV0, I
    tail = [MOV0, EXIT] if after is None else after
    return lambda: Program([*before, I(0x85, 0, 2, off, imm), *tail], license=license)


def _btf_func(name: str) -> int:
    """The vmlinux BTF id of function `name` (looked up when the case is built, as a loader would)."""
    from pyebpf.btf import BtfKind, kernel_btf
    return kernel_btf().find(name, BtfKind.FUNC)


def _kfunc_cases() -> list[Case]:
    from cases._util import EXIT, MOV0, I
    never_taken = [I(0xB7, 1, 0, 0, 0), I(0x55, 1, 0, 2, 0), MOV0, EXIT]  # r1 = 0; if r1 != 0 goto +2
    return [
        bad("kfunc_btf_id_not_a_function", _kfunc(1)),
        bad("kfunc_btf_id_out_of_range", _kfunc(-1)),
        bad("kfunc_module_offset_without_fd_array", _kfunc(5, off=1)),
        bad("kfunc_negative_module_offset", _kfunc(5, off=-1)),
        bad("kfunc_non_gpl_program", _kfunc(1, license="MIT")),
        bad("kfunc_id_zero_reached", _kfunc(0)),
        ok("kfunc_id_zero_dead_code", _kfunc(0, before=never_taken)),
        bad("kfunc_plain_kernel_function", lambda: _kfunc(_btf_func("vfs_read"))()),
        bad("kfunc_after_bad_call_target", lambda: _kfunc(1, after=[I(0x85, 0, 1, 0, 100), MOV0, EXIT])()),
    ]


CASES += _kfunc_cases()
