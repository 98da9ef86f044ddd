"""ALU on scalars (every operator, 32/64-bit, shifts, division by zero) and on pointers (what each pointer type
allows: constant/variable offsets, forbidden operators, pointer-pointer arithmetic, partial copies)."""
from __future__ import annotations

from cases import REJECT, Case
from cases._util import EXIT, MAP_HASH, LOOKUP_HASH, MOV0, I, raw

RET = "  r0 = 0\n  exit\n"


def ok(name: str, body: str, **kw) -> Case:
    return Case(name, body + RET, **kw)


def bad(name: str, body: str, **kw) -> Case:
    return Case(name, body + RET, expect=REJECT, **kw)


_SCALAR_OPS = ["+=", "-=", "*=", "/=", "%=", "|=", "&=", "^=", "<<=", ">>=", "s>>="]

CASES = [
    *[ok(f"alu_scalar64_{i}", f"  r2 = 7\n  r3 = 3\n  r2 {op} r3\n  r2 {op} 5\n") for i, op in enumerate(_SCALAR_OPS)],
    *[ok(f"alu_scalar32_{i}", f"  w2 = 7\n  w3 = 3\n  w2 {op} w3\n  w2 {op} 5\n") for i, op in enumerate(_SCALAR_OPS)],
    ok("alu_div_by_zero_reg", "  r2 = 7\n  r3 = 0\n  r2 /= r3\n  r2 %= r3\n"),
    ok("alu_div_by_unknown_reg", "  r2 = *(u32 *)(r1 + 0)\n  r3 = 9\n  r3 /= r2\n  w3 %= w2\n"),
    ok("alu_sdiv_smod", "  r2 = -7\n  r3 = 2\n  r2 s/= r3\n  r2 s%= r3\n"),
    Case("alu_div_by_zero_imm", raw(I(0xB7, 2, 0, 0, 7), I(0x37, 2, 0, 0, 0), MOV0, EXIT), expect=REJECT),
    Case("alu_mod_by_zero_imm32", raw(I(0xB7, 2, 0, 0, 7), I(0x94, 2, 0, 0, 0), MOV0, EXIT), expect=REJECT),
    ok("alu_shift_63", "  r2 = 1\n  r2 <<= 63\n  r2 >>= 63\n  r2 s>>= 63\n"),
    Case("alu_shift_64_imm", raw(I(0xB7, 2, 0, 0, 1), I(0x67, 2, 0, 0, 64), MOV0, EXIT), expect=REJECT),
    Case("alu_shift32_32_imm", raw(I(0xB4, 2, 0, 0, 1), I(0x64, 2, 0, 0, 32), MOV0, EXIT), expect=REJECT),
    Case("alu_shift_negative_imm", raw(I(0xB7, 2, 0, 0, 1), I(0x77, 2, 0, 0, -1), MOV0, EXIT), expect=REJECT),
    ok("alu_shift_by_unknown_reg", "  r2 = *(u32 *)(r1 + 0)\n  r3 = 1\n  r3 <<= r2\n"),
    ok("alu_neg", "  r2 = 5\n  r2 = -r2\n  w2 = -w2\n"),
    ok("alu_bswap_endian", "  r2 = 0x1234\n  r2 = be16 r2\n  r2 = le32 r2\n  r2 = bswap64 r2\n"),
    ok("alu_movsx", "  r2 = 0xff\n  r3 = (s8)r2\n  r3 = (s16)r2\n  r3 = (s32)r2\n  w3 = (s8)w2\n"),
    ok("alu_lddw_scalar", "  r2 = 0x123456789 ll\n  r2 += 1\n"),
    ok("alu_mov32_zero_extends", "  r2 = -1\n  w2 = w2\n  if r2 > 0xffffffff goto +1\n"),
    bad("alu_uninit_src", "  r0 = r2\n"),
    bad("alu_uninit_dst_add", "  r3 += 1\n"),
    bad("alu_uninit_src_add", "  r0 = 1\n  r0 += r4\n"),
    bad("alu_write_r10", "  r10 = 0\n"),
    bad("alu_add_r10", "  r10 += 8\n"),
    Case("alu_invalid_register_11", raw(I(0xB7, 11, 0, 0, 0), MOV0, EXIT), expect=REJECT),
    # every ALU-immediate form with dst r11 (the fast path of `rX op= imm` once indexed the register file)
    *[Case(f"alu_imm_dst_r11_{code:02x}", raw(I(code, 11, 0, 0, 1), MOV0, EXIT), expect=REJECT)
      for code in (0x07, 0x17, 0x27, 0x47, 0x57, 0x67, 0x77, 0xA7, 0xC7, 0x04, 0x14, 0x24, 0x34, 0x44, 0x54)],
    Case("alu_imm_dst_r12", raw(I(0x07, 12, 0, 0, 1), MOV0, EXIT), expect=REJECT),
    Case("alu_neg_dst_r11", raw(I(0x87, 11, 0, 0, 0), MOV0, EXIT), expect=REJECT),
    Case("alu_end_dst_r11", raw(I(0xD4, 11, 0, 0, 16), MOV0, EXIT), expect=REJECT),
    Case("alu_invalid_src_register_12", raw(I(0xBF, 0, 12, 0, 0), EXIT), expect=REJECT),
    Case("alu_r0_uninit_exit", "  exit\n", expect=REJECT),
    # pointer arithmetic: ctx
    bad("alu_ctx_add_then_load", "  r1 += 4\n  r0 = *(u32 *)(r1 + 0)\n"),
    ok("alu_ctx_add_sub_back", "  r1 += 4\n  r1 -= 4\n  r0 = *(u32 *)(r1 + 0)\n"),
    bad("alu_ctx_mul", "  r1 *= 2\n"),
    bad("alu_ctx_or", "  r1 |= 1\n"),
    bad("alu_ctx_and", "  r1 &= -8\n"),
    bad("alu_ctx_shift", "  r1 <<= 1\n"),
    ok("alu_ctx_neg_priv", "  r1 = -r1\n"),
    bad("alu_ctx_neg_unpriv", "  r1 = -r1\n", privileged=False),
    bad("alu_ctx_32bit_add", "  w1 += 1\n"),
    ok("alu_ctx_bswap_priv", "  r1 = be64 r1\n"),
    bad("alu_ctx_bswap_unpriv", "  r1 = be64 r1\n", privileged=False),
    bad("alu_ctx_var_offset", "  r2 = *(u32 *)(r1 + 0)\n  r1 += r2\n  r0 = *(u32 *)(r1 + 0)\n"),
    bad("alu_ptr_plus_ptr", "  r2 = r10\n  r1 += r2\n"),
    bad("alu_scalar_minus_ptr", "  r2 = 0\n  r2 -= r1\n"),
    ok("alu_ptr_minus_ptr_same", "  r2 = r10\n  r3 = r10\n  r3 += -8\n  r2 -= r3\n"),
    Case("alu_ptr_minus_ptr_unpriv", "  r2 = r10\n  r2 -= r10\n  r0 = r2\n  exit\n", privileged=False,
         expect=REJECT),
    ok("alu_ptr_minus_ptr_priv_return", "  r2 = r10\n  r2 -= r10\n  r0 = r2\n  r0 += 1\n"),
    ok("alu_mov32_of_ptr_priv", "  w2 = w1\n  r2 += 1\n"),
    bad("alu_mov32_of_ptr_unpriv", "  w2 = w1\n", privileged=False),
    ok("alu_scalar_plus_ptr", "  r2 = 8\n  r2 += r10\n  r3 = 0\n  *(u64 *)(r2 - 16) = r3\n"),
    # stack pointer
    ok("alu_fp_add_const_access", "  r2 = r10\n  r2 += -16\n  r3 = 1\n  *(u64 *)(r2 + 8) = r3\n"),
    bad("alu_fp_out_of_bounds_access", "  r2 = r10\n  r2 += 8\n  r3 = 1\n  *(u64 *)(r2 + 0) = r3\n"),
    bad("alu_fp_huge_add", "  r2 = r10\n  r2 += 0x7fffffff\n  r3 = 1\n  *(u64 *)(r2 + 0) = r3\n"),
    bad("alu_fp_bitwise", "  r2 = r10\n  r2 &= -16\n"),
    bad("alu_fp_mul", "  r2 = r10\n  r2 *= 1\n"),
    # map pointers
    bad("alu_map_ptr_add", MAP_HASH + "  r1 = map[m] ll\n  r1 += 8\n"),
    ok("alu_map_ptr_copy", MAP_HASH + "  r1 = map[m] ll\n  r2 = r1\n"),
    bad("alu_map_value_or_null_add", MAP_HASH + LOOKUP_HASH + "  r0 += 8\n"),
    ok("alu_map_value_add_const", MAP_HASH + LOOKUP_HASH + "  if r0 == 0 goto +2\n  r0 += 4\n  r1 = *(u32 *)(r0 + 0)\n"),
    bad("alu_map_value_add_const_oob", MAP_HASH + LOOKUP_HASH + "  if r0 == 0 goto +2\n  r0 += 8\n  r1 = *(u32 *)(r0 + 0)\n"),
    ok("alu_map_value_var_masked", MAP_HASH + LOOKUP_HASH +
       "  if r0 == 0 goto +4\n  r1 = *(u64 *)(r0 + 0)\n  r1 &= 7\n  r0 += r1\n  r1 = *(u8 *)(r0 + 0)\n"),
    bad("alu_map_value_var_unbounded", MAP_HASH + LOOKUP_HASH +
        "  if r0 == 0 goto +3\n  r1 = *(u64 *)(r0 + 0)\n  r0 += r1\n  r1 = *(u8 *)(r0 + 0)\n"),
    bad("alu_map_value_var_masked_oob", MAP_HASH + LOOKUP_HASH +
        "  if r0 == 0 goto +4\n  r1 = *(u64 *)(r0 + 0)\n  r1 &= 15\n  r0 += r1\n  r1 = *(u8 *)(r0 + 0)\n"),
    bad("alu_map_value_bitwise", MAP_HASH + LOOKUP_HASH + "  if r0 == 0 goto +1\n  r0 &= 3\n"),
    ok("alu_map_value_sub_ptrs", MAP_HASH + LOOKUP_HASH + "  if r0 == 0 goto +3\n  r1 = r0\n  r1 += 4\n  r1 -= r0\n"),
    # scalars after bounds-tracking ops
    ok("alu_bounds_and_then_index_stack",
       "  r2 = *(u32 *)(r1 + 0)\n  r2 &= 7\n  r3 = r10\n  r3 += -8\n  r3 += r2\n  r4 = 0\n  *(u8 *)(r3 + 0) = r4\n"),
    bad("alu_bounds_and_then_index_stack_unpriv",
        "  r2 = *(u32 *)(r1 + 0)\n  r2 &= 7\n  r3 = r10\n  r3 += -8\n  r3 += r2\n  r4 = 0\n  *(u8 *)(r3 + 0) = r4\n",
        privileged=False),
    ok("alu_jmp_refines_bounds_stack",
       "  r2 = *(u32 *)(r1 + 0)\n  if r2 > 7 goto +5\n  r3 = r10\n  r3 += -8\n  r3 += r2\n  r4 = 0\n"
       "  *(u8 *)(r3 + 0) = r4\n"),
    # a register compared with itself is not decided (6.18 compares copies): both branches are explored
    *[bad(f"jmp_same_reg_not_decided_{i}", "  r6 = r1\n  call 7\n  r7 = r0\n  r8 = 1\n"
          f"  if r7 {op} r7 goto +1\n  *(u32 *)(r6 + 8) = r8\n") for i, op in enumerate(["==", ">=", "s<="])],
    *[bad(f"jmp_same_reg_not_decided_taken_{i}", "  r6 = r1\n  call 7\n  r7 = r0\n  r8 = 1\n"
          f"  if r7 {op} r7 goto +2\n  r0 = 0\n  exit\n  *(u32 *)(r6 + 8) = r8\n")
      for i, op in enumerate([">", "!=", "s<"])],
    # atomic opcodes are checked by the verifier too (a Program read without validation may hold any imm)
    *[Case(f"atomic_invalid_opcode_{imm:#x}", raw(I(0xB7, 0, 0, 0, 0), I(0x7B, 10, 0, -8, 0), I(0xBF, 1, 10, 0, 0),
                                                  I(0xDB, 1, 0, -8, imm), MOV0, EXIT), expect=REJECT)
      for imm in (0x99, 0x10, 0xE0, 0x111)],
]
