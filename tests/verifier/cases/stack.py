"""The stack: 512 bytes, bounds, uninitialized reads (privileged vs unprivileged), spills and fills of pointers and
scalars, partial overwrites of spilled pointers, misaligned and variable-offset accesses, atomics."""
from __future__ import annotations

from cases import REJECT, Case

RET = "  r0 = 0\n  exit\n"


def ok(name: str, body: str, **kw) -> Case:
    return Case(name, body + RET, **kw)


def bad(name: str, body: str, **kw) -> Case:
    return Case(name, body + RET, expect=REJECT, **kw)


def both(name: str, body: str, priv_ok: bool, unpriv_ok: bool) -> list[Case]:
    return [(ok if priv_ok else bad)(name, body), (ok if unpriv_ok else bad)(name, body, privileged=False)]


_VAR_PTR = "  r2 = *(u32 *)(r1 + 0)\n  r2 &= 8\n  r3 = r10\n  r3 += -16\n  r3 += r2\n"

CASES = [
    # one load instruction reached with ctx on one path and a stack pointer on another (save_aux_ptr_type)
    Case("stack_same_insn_ctx_and_stack_pointer", "*(u64 *)(r10 - 8) = 0\nr2 = *(u32 *)(r1 + 0)\nr3 = r1\n"
         "if r2 > 10 goto +2\nr3 = r10\nr3 += -8\nr0 = *(u32 *)(r3 + 0)\nexit\n", expect=REJECT),
    Case("stack_same_insn_two_stack_pointers", "*(u64 *)(r10 - 8) = 0\n*(u64 *)(r10 - 16) = 0\n"
         "r2 = *(u32 *)(r1 + 0)\nr3 = r10\nr3 += -16\nif r2 > 10 goto +2\nr3 = r10\nr3 += -8\n"
         "r0 = *(u32 *)(r3 + 0)\nexit\n"),
    *both("stack_write_read_8", "  r2 = 1\n  *(u64 *)(r10 - 8) = r2\n  r0 = *(u64 *)(r10 - 8)\n", True, True),
    *both("stack_write_read_512", "  r2 = 1\n  *(u64 *)(r10 - 512) = r2\n  r0 = *(u64 *)(r10 - 512)\n", True, True),
    *both("stack_write_below_512", "  r2 = 1\n  *(u64 *)(r10 - 520) = r2\n", False, False),
    *both("stack_write_straddles_512", "  r2 = 1\n  *(u32 *)(r10 - 514) = r2\n", False, False),
    *both("stack_write_above_fp", "  r2 = 1\n  *(u64 *)(r10 + 0) = r2\n", False, False),
    *both("stack_write_straddles_fp", "  r2 = 1\n  *(u64 *)(r10 - 4) = r2\n", False, False),
    *both("stack_st_imm", "  *(u32 *)(r10 - 4) = 7\n  r0 = *(u32 *)(r10 - 4)\n", True, True),
    *both("stack_read_uninit", "  r0 = *(u64 *)(r10 - 8)\n", True, False),
    *both("stack_read_partly_init", "  r2 = 1\n  *(u32 *)(r10 - 8) = r2\n  r0 = *(u64 *)(r10 - 8)\n", True, False),
    *both("stack_read_uninit_byte", "  r0 = *(u8 *)(r10 - 100)\n", True, False),
    *both("stack_misaligned_write", "  r2 = 1\n  *(u64 *)(r10 - 12) = r2\n", False, False),
    *both("stack_misaligned_read", "  r2 = 1\n  *(u64 *)(r10 - 16) = r2\n  r0 = *(u32 *)(r10 - 14)\n", False, False),
    *both("stack_aligned_narrow_reads",
          "  r2 = 1\n  *(u64 *)(r10 - 8) = r2\n  r0 = *(u8 *)(r10 - 1)\n  r0 = *(u16 *)(r10 - 4)\n", True, True),
    # spills and fills
    *both("stack_spill_fill_ctx", "  *(u64 *)(r10 - 8) = r1\n  r1 = *(u64 *)(r10 - 8)\n  r0 = *(u32 *)(r1 + 0)\n",
          True, True),
    *both("stack_spill_fill_fp", "  r2 = r10\n  *(u64 *)(r10 - 8) = r2\n  r3 = *(u64 *)(r10 - 8)\n"
          "  r4 = 0\n  *(u64 *)(r3 - 16) = r4\n", True, True),
    *both("stack_spill_ptr_partial_fill", "  *(u64 *)(r10 - 8) = r1\n  r0 = *(u32 *)(r10 - 8)\n", False, False),
    *both("stack_spill_ptr_partial_overwrite_then_fill",
          "  *(u64 *)(r10 - 8) = r1\n  r2 = 0\n  *(u32 *)(r10 - 8) = r2\n  r1 = *(u64 *)(r10 - 8)\n"
          "  r0 = *(u32 *)(r1 + 0)\n", False, False),
    *both("stack_spill_ptr_misaligned", "  *(u64 *)(r10 - 12) = r1\n", False, False),
    *both("stack_spill_ptr_32bit", "  *(u32 *)(r10 - 8) = r1\n", False, False),
    *both("stack_spill_scalar_fill_bounds",
          "  r2 = *(u32 *)(r1 + 0)\n  r2 &= 7\n  *(u64 *)(r10 - 8) = r2\n  r3 = *(u64 *)(r10 - 8)\n"
          "  r4 = r10\n  r4 += -16\n  r4 += r3\n  r5 = 0\n  *(u8 *)(r4 + 0) = r5\n", True, False),
    *both("stack_fill_then_deref_scalar", "  r2 = 5\n  *(u64 *)(r10 - 8) = r2\n  r1 = *(u64 *)(r10 - 8)\n"
          "  r0 = *(u32 *)(r1 + 0)\n", False, False),
    # variable offsets
    *both("stack_var_offset_write", _VAR_PTR + "  r4 = 0\n  *(u64 *)(r3 + 0) = r4\n", True, False),
    *both("stack_var_offset_read_init",
          "  r4 = 0\n  *(u64 *)(r10 - 16) = r4\n  *(u64 *)(r10 - 8) = r4\n" + _VAR_PTR + "  r0 = *(u64 *)(r3 + 0)\n",
          True, False),
    *both("stack_var_offset_read_uninit", _VAR_PTR + "  r0 = *(u64 *)(r3 + 0)\n", True, False),
    *both("stack_var_offset_unbounded", "  r2 = *(u32 *)(r1 + 0)\n  r3 = r10\n  r3 += r2\n  r4 = 0\n"
          "  *(u8 *)(r3 - 8) = r4\n", False, False),
    *both("stack_var_offset_oob", "  r2 = *(u32 *)(r1 + 0)\n  r2 &= 31\n  r3 = r10\n  r3 += -16\n  r3 += r2\n"
          "  r4 = 0\n  *(u8 *)(r3 + 0) = r4\n", False, False),
    # atomics on the stack
    *both("stack_atomic_add", "  r2 = 0\n  *(u64 *)(r10 - 8) = r2\n  r2 = 1\n  lock *(u64 *)(r10 - 8) += r2\n",
          True, True),
    *both("stack_atomic_uninit", "  r2 = 1\n  lock *(u64 *)(r10 - 8) += r2\n", True, False),
    *both("stack_atomic_fetch_add", "  r2 = 0\n  *(u64 *)(r10 - 8) = r2\n  r2 = 1\n"
          "  r2 = atomic_fetch_add((u64 *)(r10 - 8), r2)\n", True, True),
    *both("stack_atomic_on_spilled_ptr", "  *(u64 *)(r10 - 8) = r1\n  r2 = 1\n  lock *(u64 *)(r10 - 8) += r2\n",
          True, False),
    *both("stack_xchg", "  r2 = 0\n  *(u64 *)(r10 - 8) = r2\n  r2 = xchg_64(r10 - 8, r2)\n", True, True),
    *both("stack_cmpxchg", "  r2 = 0\n  *(u64 *)(r10 - 8) = r2\n  r0 = 0\n  r2 = 5\n"
          "  r0 = cmpxchg_64(r10 - 8, r0, r2)\n", True, True),
]
