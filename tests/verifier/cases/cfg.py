"""CFG and structure: jumps, unreachable code, back-edges, the last instruction, opcodes, reserved fields,
lddw forms, subprogram boundaries, call depth, program size."""
from __future__ import annotations

from cases import REJECT, Case
from cases._util import EXIT, MOV0, I, raw

_LOOP = """
  r1 = 0
loop:
  r1 += 1
  if r1 < 10 goto loop
  r0 = 0
  exit
"""


def _nested_calls(depth: int, stack: int = 0) -> str:
    """main calls f1 calls f2 ... f{depth}; each frame touches `stack` bytes of its stack."""
    out = []
    for i in range(depth + 1):
        out.append(f"f{i}:" if i else "")
        if stack:
            out.append(f"  r1 = 0\n  *(u64 *)(r10 - {stack}) = r1")
        if i < depth:
            out.append(f"  call f{i + 1}")
        out.append("  r0 = 0\n  exit")
    return "\n".join(out)


def _many_subprogs(n: int) -> str:
    """main calls n functions, each `r0 = 0; exit`."""
    return ("".join(f"  call f{i}\n" for i in range(n)) + "  r0 = 0\n  exit\n"
            + "".join(f"f{i}:\n  r0 = 0\n  exit\n" for i in range(n)))


_BACKWARD_CALLBACK = """
  call f
  r0 = 0
  exit
cb:
  r0 = 0
  exit
f:
  r1 = 1
  r2 = cb ll
  r3 = 0
  r4 = 0
  call bpf_loop
  r0 = 0
  exit
"""


def _big(n: int) -> str:
    return "  r0 = 0\n" * (n - 1) + "  exit\n"


CASES = [
    Case("cfg_minimal", "r0 = 0\nexit\n"),
    Case("cfg_jump_forward_out_of_range", "if r1 > 0 goto +5\nr0 = 0\nexit\n", expect=REJECT),
    Case("cfg_jump_backward_out_of_range", "r0 = 0\ngoto -5\nexit\n", expect=REJECT),
    Case("cfg_ja_to_end", "r0 = 0\ngoto +1\nexit\n", expect=REJECT),
    Case("cfg_gotol_out_of_range", raw(MOV0, I(0x06, 0, 0, 0, 7), EXIT), expect=REJECT),
    Case("cfg_gotol_ok", raw(MOV0, I(0x06, 0, 0, 0, 0), EXIT)),
    Case("cfg_jump_into_lddw", "if r1 > 0 goto +1\nr0 = 0 ll\nr0 = 0\nexit\n", expect=REJECT),
    Case("cfg_jump_over_lddw", "r0 = 0\nif r1 > 0 goto +2\nr2 = 1 ll\nexit\n"),
    Case("cfg_unreachable_tail", "r0 = 0\nexit\nr0 = 1\nexit\n", expect=REJECT),
    Case("cfg_unreachable_skipped", "goto +1\nr0 = 1\nr0 = 0\nexit\n", expect=REJECT),
    Case("cfg_unreachable_lddw", "r0 = 0\nexit\nr0 = 1 ll\nexit\n", expect=REJECT),
    Case("cfg_last_not_exit", "r0 = 0\n", expect=REJECT),
    Case("cfg_last_conditional_jump", "r0 = 0\nexit\nif r0 == 0 goto -2\n", expect=REJECT),
    Case("cfg_last_is_backward_ja", "r0 = 0\ngoto +1\nexit\ngoto -2\n"),
    Case("cfg_fall_off_after_branch", "r0 = 0\nif r1 > 0 goto +1\nexit\nr0 = 1\n", expect=REJECT),
    Case("cfg_nop_jumps", "goto +0\ngoto +0\nr0 = 0\nif r0 == 0 goto +0\nexit\n"),
    Case("cfg_loop_priv", _LOOP),
    Case("cfg_loop_unpriv", _LOOP, privileged=False, expect=REJECT),
    Case("cfg_self_loop_unconditional", "r0 = 0\ngoto -1\nexit\n", expect=REJECT),
    Case("cfg_self_loop_unconditional_unpriv", "r0 = 0\ngoto -1\nexit\n", privileged=False, expect=REJECT),
    Case("cfg_self_loop_conditional", "r0 = 0\nif r1 == 0 goto -1\nexit\n", expect=REJECT),
    Case("cfg_backward_ja_unpriv", "r0 = 0\ngoto +1\nexit\ngoto -2\n", privileged=False),
    Case("cfg_unknown_opcode_ff", raw(I(0xFF, 0, 0, 0, 0), EXIT), expect=REJECT),
    Case("cfg_unknown_opcode_00", raw(I(0x00, 0, 0, 0, 0), MOV0, EXIT), expect=REJECT),
    Case("cfg_unknown_opcode_alu_e0", raw(MOV0, I(0xE7, 0, 0, 0, 1), EXIT), expect=REJECT),
    Case("cfg_unknown_opcode_jmp_f5", raw(MOV0, I(0xF5, 0, 0, 0, 0), EXIT), expect=REJECT),
    Case("cfg_unknown_opcode_ld_w_abs_in_jmp32", raw(MOV0, I(0x86, 0, 0, 0, 0), EXIT), expect=REJECT),
    Case("cfg_reserved_mov_imm_src", raw(I(0xB7, 0, 1, 0, 0), EXIT), expect=REJECT),
    Case("cfg_reserved_mov_imm_off", raw(I(0xB7, 0, 0, 3, 0), EXIT), expect=REJECT),
    Case("cfg_reserved_alu_x_imm", raw(MOV0, I(0x0F, 0, 0, 0, 5), EXIT), expect=REJECT),
    Case("cfg_reserved_exit_imm", raw(MOV0, I(0x95, 0, 0, 0, 1)), expect=REJECT),
    Case("cfg_reserved_exit_dst", raw(MOV0, I(0x95, 1, 0, 0, 0)), expect=REJECT),
    Case("cfg_reserved_ldx_imm", raw(I(0x79, 0, 1, 0, 7), EXIT), expect=REJECT),
    Case("cfg_reserved_st_src", raw(I(0x7A, 10, 1, -8, 0), MOV0, EXIT), expect=REJECT),
    Case("cfg_reserved_jmp_k_src", raw(MOV0, I(0x15, 1, 2, 0, 0), EXIT), expect=REJECT),
    Case("cfg_reserved_ja_src", raw(MOV0, I(0x05, 0, 1, 0, 0), EXIT), expect=REJECT),
    Case("cfg_reserved_call_off", raw(I(0x85, 0, 0, 1, 7), MOV0, EXIT), expect=REJECT),
    Case("cfg_reserved_neg_imm", raw(MOV0, I(0x87, 0, 0, 0, 1), EXIT), expect=REJECT),
    Case("cfg_reserved_end_imm", raw(MOV0, I(0xD4, 0, 0, 0, 17), EXIT), expect=REJECT),
    Case("cfg_reserved_movsx_bad_off", raw(MOV0, I(0xBF, 0, 1, 12, 0), EXIT), expect=REJECT),
    Case("cfg_reserved_stx_imm", raw(MOV0, I(0x7B, 10, 0, -8, 3), EXIT), expect=REJECT),
    Case("cfg_lddw_unrecognized_src", raw(I(0x18, 0, 7, 0, 0), EXIT), expect=REJECT),
    Case("cfg_lddw_bad_map_fd", raw(I(0x18, 1, 1, 0, 123456), MOV0, EXIT), expect=REJECT),
    Case("cfg_lddw_map_fd_high_imm", raw(I(0x18, 1, 1, 0, 5 << 32 | 3), MOV0, EXIT), expect=REJECT),
    Case("cfg_order_unknown_opcode_vs_last_insn", raw(MOV0, I(0xFF, 0, 0, 0, 0), MOV0), expect=REJECT),
    Case("cfg_order_ldx_reserved_in_dead_code", raw(MOV0, EXIT, I(0x79, 0, 1, 0, 1), EXIT), expect=REJECT),
    Case("cfg_order_unknown_opcode_in_dead_code", raw(MOV0, EXIT, I(0xFF, 0, 0, 0, 0), EXIT), expect=REJECT),
    Case("cfg_order_jump_range_vs_opcode", raw(I(0xFF, 0, 0, 0, 0), I(0x05, 0, 0, 9, 0), EXIT), expect=REJECT),
    Case("cfg_lddw_plain", "r0 = 0x123456789abcdef ll\nexit\n"),
    Case("cfg_empty_program", raw(), expect=REJECT),
    Case("cfg_size_4096_unpriv", _big(4096), privileged=False),
    Case("cfg_size_4097_unpriv", _big(4097), privileged=False, expect=REJECT),
    Case("cfg_size_4097_priv", _big(4097)),
    # subprograms
    Case("cfg_call_subprog", "call f\nexit\nf:\nr0 = 0\nexit\n"),
    Case("cfg_call_out_of_range", raw(I(0x85, 0, 1, 0, 5), MOV0, EXIT), expect=REJECT),
    Case("cfg_call_negative_out_of_range", raw(MOV0, I(0x85, 0, 1, 0, -5), EXIT), expect=REJECT, btf=False),
    Case("cfg_call_into_lddw", raw(I(0x85, 0, 1, 0, 2), EXIT, I(0x18, 0, 0, 0, 1), EXIT), expect=REJECT),
    Case("cfg_jump_into_subprog", "if r1 > 0 goto f\nr0 = 0\ncall f\nexit\nf:\nr0 = 0\nexit\n", expect=REJECT),
    Case("cfg_jump_out_of_subprog", "call f\nr0 = 0\nl:\nexit\nf:\nr0 = 0\ngoto l\n", expect=REJECT),
    Case("cfg_subprog_falls_through", "call f\nr0 = 0\nexit\nf:\nr0 = 0\ncall g\nr0 = 1\ng:\nr0 = 2\nexit\n",
         expect=REJECT),
    Case("cfg_main_falls_into_subprog", "r0 = 0\ncall f\nf:\nr0 = 0\nexit\n", expect=REJECT),
    Case("cfg_recursive_call", "call f\nr0 = 0\nexit\nf:\ncall f\nr0 = 0\nexit\n", expect=REJECT),
    Case("cfg_call_self_main", "r0 = 0\ncall -1\nexit\n", expect=REJECT),
    Case("cfg_subprog_unpriv", "call f\nexit\nf:\nr0 = 0\nexit\n", privileged=False, expect=REJECT),
    Case("cfg_depth_8_frames", _nested_calls(7)),
    Case("cfg_depth_9_frames", _nested_calls(8), expect=REJECT),
    Case("cfg_combined_stack_ok", _nested_calls(1, 256)),
    Case("cfg_combined_stack_too_large", _nested_calls(2, 256), expect=REJECT),
    Case("cfg_kfunc_call_unpriv", raw(I(0x85, 0, 2, 0, 1), MOV0, EXIT), privileged=False, expect=REJECT),
    Case("cfg_kfunc_callback_ref_unpriv", raw(I(0x18, 2, 4, 0, 2), MOV0, EXIT, MOV0, EXIT), privileged=False,
         expect=REJECT),
    Case("cfg_callx_opcode", raw(MOV0, I(0x8D, 0, 1, 0, 0), EXIT), expect=REJECT),
    Case("cfg_255_subprogs", _many_subprogs(255)),
    Case("cfg_256_subprogs", _many_subprogs(256), expect=REJECT),
    Case("cfg_backward_callback_reference", _BACKWARD_CALLBACK),
    Case("cfg_callback_reference_out_of_range", raw(I(0x18, 2, 4, 0, 40), MOV0, EXIT), expect=REJECT),
    Case("cfg_unreachable_subprog_code", "call f\nexit\nr0 = 5\nf:\nr0 = 0\nexit\n", expect=REJECT),
]
