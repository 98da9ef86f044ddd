"""Every instruction form of both dialects assembles to the fields the kernel/ISA defines.

Expected opcodes are spelled as raw numbers on purpose: they are the independent oracle (RFC 9669 / linux/bpf.h),
not derived from the enums the assembler uses.
"""
from __future__ import annotations

import pytest

from pyebpf.errors import AsmError
from pyebpf.isa.assembler import assemble, assemble_instruction
from pyebpf.isa.instruction import Instruction as I

# (text, opcode, dst, src, off, imm)
LLVM_FORMS = [
    ("r0 = 42", 0xB7, 0, 0, 0, 42),
    ("r0 = -1", 0xB7, 0, 0, 0, -1),
    ("r3 = 0x7fffffff", 0xB7, 3, 0, 0, 0x7FFFFFFF),
    ("w1 = 7", 0xB4, 1, 0, 0, 7),
    ("w1 = w2", 0xBC, 1, 2, 0, 0),
    ("r1 = r2", 0xBF, 1, 2, 0, 0),
    ("r1 += 8", 0x07, 1, 0, 0, 8),
    ("r1 += -8", 0x07, 1, 0, 0, -8),
    ("r1 -= r2", 0x1F, 1, 2, 0, 0),
    ("r1 *= 3", 0x27, 1, 0, 0, 3),
    ("r1 /= r2", 0x3F, 1, 2, 0, 0),
    ("r1 |= 0x10", 0x47, 1, 0, 0, 16),
    ("r1 &= r2", 0x5F, 1, 2, 0, 0),
    ("r1 <<= 3", 0x67, 1, 0, 0, 3),
    ("r1 >>= r3", 0x7F, 1, 3, 0, 0),
    ("r1 %= 5", 0x97, 1, 0, 0, 5),
    ("r1 ^= r1", 0xAF, 1, 1, 0, 0),
    ("r1 s>>= 2", 0xC7, 1, 0, 0, 2),
    ("w1 s>>= w2", 0xCC, 1, 2, 0, 0),
    ("w4 += w5", 0x0C, 4, 5, 0, 0),
    ("w4 -= 1", 0x14, 4, 0, 0, 1),
    ("r1 s/= r2", 0x3F, 1, 2, 1, 0),
    ("r1 s%= 3", 0x97, 1, 0, 1, 3),
    ("w1 s/= w2", 0x3C, 1, 2, 1, 0),
    ("w1 s%= -3", 0x94, 1, 0, 1, -3),
    ("r1 = -r1", 0x87, 1, 0, 0, 0),
    ("w1 = -w1", 0x84, 1, 0, 0, 0),
    ("r0 = le16 r0", 0xD4, 0, 0, 0, 16),
    ("r0 = le32 r0", 0xD4, 0, 0, 0, 32),
    ("r0 = le64 r0", 0xD4, 0, 0, 0, 64),
    ("r0 = be16 r0", 0xDC, 0, 0, 0, 16),
    ("r2 = be32 r2", 0xDC, 2, 0, 0, 32),
    ("r2 = be64 r2", 0xDC, 2, 0, 0, 64),
    ("r0 = bswap16 r0", 0xD7, 0, 0, 0, 16),
    ("r0 = bswap32 r0", 0xD7, 0, 0, 0, 32),
    ("r0 = bswap64 r0", 0xD7, 0, 0, 0, 64),
    ("r0 = (s8)r1", 0xBF, 0, 1, 8, 0),
    ("r0 = (s16)r1", 0xBF, 0, 1, 16, 0),
    ("r0 = (s32)r1", 0xBF, 0, 1, 32, 0),
    ("w0 = (s8)w1", 0xBC, 0, 1, 8, 0),
    ("w0 = (s16)w1", 0xBC, 0, 1, 16, 0),
    ("r1 = addr_space_cast(r2, 0, 1)", 0xBF, 1, 2, 1, 1),
    ("r1 = addr_space_cast(r2, 1, 0)", 0xBF, 1, 2, 1, 1 << 16),
    ("r0 = *(u8 *)(r1 + 0)", 0x71, 0, 1, 0, 0),
    ("r0 = *(u16 *)(r1 + 2)", 0x69, 0, 1, 2, 0),
    ("r0 = *(u32 *)(r1 + 4)", 0x61, 0, 1, 4, 0),
    ("r0 = *(u64 *)(r10 - 8)", 0x79, 0, 10, -8, 0),
    ("w0 = *(u32 *)(r1 + 4)", 0x61, 0, 1, 4, 0),
    ("w0 = *(u8 *)(r1 + 4)", 0x71, 0, 1, 4, 0),
    ("r0 = *(s8 *)(r1 + 0)", 0x91, 0, 1, 0, 0),
    ("r0 = *(s16 *)(r1 + 2)", 0x89, 0, 1, 2, 0),
    ("r0 = *(s32 *)(r1 - 4)", 0x81, 0, 1, -4, 0),
    ("r0 = *(u64 *)(r1 + 32767)", 0x79, 0, 1, 32767, 0),
    ("r0 = *(u64 *)(r1 - 32768)", 0x79, 0, 1, -32768, 0),
    ("*(u8 *)(r10 - 1) = r1", 0x73, 10, 1, -1, 0),
    ("*(u16 *)(r10 - 2) = w1", 0x6B, 10, 1, -2, 0),
    ("*(u32 *)(r10 - 8) = r1", 0x63, 10, 1, -8, 0),
    ("*(u32 *)(r10 - 8) = w1", 0x63, 10, 1, -8, 0),
    ("*(u64 *)(r10 - 8) = r1", 0x7B, 10, 1, -8, 0),
    ("*(u64 *)(r10 - 8) = 42", 0x7A, 10, 0, -8, 42),
    ("*(u8 *)(r1 + 3) = -1", 0x72, 1, 0, 3, -1),
    ("*(u16 *)(r1 + 0) = 7", 0x6A, 1, 0, 0, 7),
    ("*(u32 *)(r1 + 0) = 7", 0x62, 1, 0, 0, 7),
    ("lock *(u32 *)(r1 + 0) += w2", 0xC3, 1, 2, 0, 0x00),
    ("lock *(u32 *)(r1 + 0) += r2", 0xC3, 1, 2, 0, 0x00),
    ("lock *(u64 *)(r10 - 8) += r1", 0xDB, 10, 1, -8, 0x00),
    ("lock *(u64 *)(r1 + 0) |= r2", 0xDB, 1, 2, 0, 0x40),
    ("lock *(u64 *)(r1 + 0) &= r2", 0xDB, 1, 2, 0, 0x50),
    ("lock *(u64 *)(r1 + 0) ^= r2", 0xDB, 1, 2, 0, 0xA0),
    ("lock *(u32 *)(r1 + 0) &= w2", 0xC3, 1, 2, 0, 0x50),
    ("r2 = atomic_fetch_add((u64 *)(r1 + 0), r2)", 0xDB, 1, 2, 0, 0x01),
    ("r2 = atomic_fetch_and((u64 *)(r1 + 8), r2)", 0xDB, 1, 2, 8, 0x51),
    ("r2 = atomic_fetch_or((u64 *)(r1 + 0), r2)", 0xDB, 1, 2, 0, 0x41),
    ("r2 = atomic_fetch_xor((u64 *)(r1 + 0), r2)", 0xDB, 1, 2, 0, 0xA1),
    ("w2 = atomic_fetch_add((u32 *)(r1 + 0), w2)", 0xC3, 1, 2, 0, 0x01),
    ("r2 = xchg_64(r1 + 0, r2)", 0xDB, 1, 2, 0, 0xE1),
    ("w2 = xchg32_32(r1 + 0, w2)", 0xC3, 1, 2, 0, 0xE1),
    ("r0 = cmpxchg_64(r1 + 0, r0, r2)", 0xDB, 1, 2, 0, 0xF1),
    ("w0 = cmpxchg32_32(r1 - 4, w0, w2)", 0xC3, 1, 2, -4, 0xF1),
    ("r0 = load_acquire((u64 *)(r1 + 0))", 0xDB, 0, 1, 0, 0x100),
    ("w0 = load_acquire((u8 *)(r1 + 2))", 0xD3, 0, 1, 2, 0x100),
    ("store_release((u64 *)(r1 + 0), r2)", 0xDB, 1, 2, 0, 0x110),
    ("store_release((u16 *)(r1 + 0), w2)", 0xCB, 1, 2, 0, 0x110),
    ("goto +3", 0x05, 0, 0, 3, 0),
    ("goto -1", 0x05, 0, 0, -1, 0),
    ("gotol +70000", 0x06, 0, 0, 0, 70000),
    ("gotol -2", 0x06, 0, 0, 0, -2),
    ("may_goto +2", 0xE5, 0, 0, 2, 0),
    ("if r1 == r2 goto +1", 0x1D, 1, 2, 1, 0),
    ("if r1 != 0 goto +1", 0x55, 1, 0, 1, 0),
    ("if r1 > 16 goto +3", 0x25, 1, 0, 3, 16),
    ("if r1 >= r2 goto +3", 0x3D, 1, 2, 3, 0),
    ("if r1 < 4 goto -2", 0xA5, 1, 0, -2, 4),
    ("if r1 <= r3 goto +0", 0xBD, 1, 3, 0, 0),
    ("if r1 s> -1 goto +1", 0x65, 1, 0, 1, -1),
    ("if r1 s>= r2 goto +1", 0x7D, 1, 2, 1, 0),
    ("if r1 s< 0 goto +1", 0xC5, 1, 0, 1, 0),
    ("if r1 s<= r2 goto +1", 0xDD, 1, 2, 1, 0),
    ("if r1 & 0x10 goto +1", 0x45, 1, 0, 1, 16),
    ("if r1 & r2 goto +1", 0x4D, 1, 2, 1, 0),
    ("if w1 s< 5 goto +2", 0xC6, 1, 0, 2, 5),
    ("if w1 == w2 goto +2", 0x1E, 1, 2, 2, 0),
    ("if w1 & 1 goto +2", 0x46, 1, 0, 2, 1),
    ("if r1 > 0xffffffff goto +1", 0x25, 1, 0, 1, -1),
    ("call 1", 0x85, 0, 0, 0, 1),
    ("call bpf_map_lookup_elem", 0x85, 0, 0, 0, 1),
    ("call map_update_elem", 0x85, 0, 0, 0, 2),
    ("call bpf_trace_printk", 0x85, 0, 0, 0, 6),
    ("call kfunc 123", 0x85, 0, 2, 0, 123),
    ("call pc+2", 0x85, 0, 1, 0, 2),
    ("call pc-3", 0x85, 0, 1, 0, -3),
    ("callx r2", 0x8D, 2, 0, 0, 0),
    ("exit", 0x95, 0, 0, 0, 0),
    ("r0 = *(u8 *)skb[1]", 0x30, 0, 0, 0, 1),
    ("r0 = *(u16 *)skb[12]", 0x28, 0, 0, 0, 12),
    ("r0 = *(u32 *)skb[0]", 0x20, 0, 0, 0, 0),
    ("r0 = *(u16 *)skb[r1]", 0x48, 0, 1, 0, 0),
    ("r0 = *(u8 *)skb[r3 + 14]", 0x50, 0, 3, 0, 14),
    ("r1 = 0x1122334455667788 ll", 0x18, 1, 0, 0, 0x1122334455667788),
    ("r1 = -1 ll", 0x18, 1, 0, 0, -1),
    ("r1 = 0xffffffffffffffff ll", 0x18, 1, 0, 0, -1),
    ("r9 = 5 ll", 0x18, 9, 0, 0, 5),
    ("ld_pseudo r1, 2, 3", 0x18, 1, 2, 0, 3),
]

# The verifier log's spelling (kernel/bpf/disasm.c).
KERNEL_FORMS = [
    ("0: (b7) r0 = 42", 0xB7, 0, 0, 0, 42),
    ("(bf) r6 = r1", 0xBF, 6, 1, 0, 0),
    ("12: (07) r2 += -8", 0x07, 2, 0, 0, -8),
    ("(7b) *(u64 *)(r10 -8) = r1", 0x7B, 10, 1, -8, 0),
    ("(7a) *(u64 *)(r10 -16) = 0", 0x7A, 10, 0, -16, 0),
    ("(79) r0 = *(u64 *)(r1 +8)", 0x79, 0, 1, 8, 0),
    ("(91) r0 = *(s8 *)(r1 +0)", 0x91, 0, 1, 0, 0),
    ("(25) if r1 > 0x10 goto pc+3", 0x25, 1, 0, 3, 16),
    ("(a6) if w1 < 0x5 goto pc-4", 0xA6, 1, 0, -4, 5),
    ("(05) goto pc+3", 0x05, 0, 0, 3, 0),
    ("(06) gotol pc+300", 0x06, 0, 0, 0, 300),
    ("(e5) may_goto pc+2", 0xE5, 0, 0, 2, 0),
    ("(85) call bpf_map_lookup_elem#1", 0x85, 0, 0, 0, 1),
    ("(85) call pc+2", 0x85, 0, 1, 0, 2),
    ("(85) call unknown#212", 0x85, 0, 0, 0, 212),
    ("(85) call bpf_obj_new_impl#54321", 0x85, 0, 2, 0, 54321),
    ("(95) exit", 0x95, 0, 0, 0, 0),
    ("(18) r1 = 0xffff888812345678", 0x18, 1, 0, 0, 0xFFFF888812345678 - (1 << 64)),
    ("(18) r1 = 0x5", 0x18, 1, 0, 0, 5),
    ("(db) lock *(u64 *)(r10 -8) += r1", 0xDB, 10, 1, -8, 0),
    ("(db) r1 = atomic64_fetch_add((u64 *)(r10 -8), r1)", 0xDB, 10, 1, -8, 0x01),
    ("(c3) r1 = atomic_fetch_or((u32 *)(r10 -8), r1)", 0xC3, 10, 1, -8, 0x41),
    ("(db) r1 = atomic64_xchg((u64 *)(r10 -8), r1)", 0xDB, 10, 1, -8, 0xE1),
    ("(c3) r1 = atomic_xchg((u32 *)(r10 -8), r1)", 0xC3, 10, 1, -8, 0xE1),
    ("(db) r0 = atomic64_cmpxchg((u64 *)(r10 -8), r0, r1)", 0xDB, 10, 1, -8, 0xF1),
    ("(d3) w0 = load_acquire((u8 *)(r1 +0))", 0xD3, 0, 1, 0, 0x100),
    ("(dc) r1 = be16 r1", 0xDC, 1, 0, 0, 16),
    ("(d7) r1 = bswap64 r1", 0xD7, 1, 0, 0, 64),
    ("(bf) r1 = (s16)r2", 0xBF, 1, 2, 16, 0),
    ("(3f) r1 s/= r2", 0x3F, 1, 2, 1, 0),
    ("(87) r1 = -r1", 0x87, 1, 0, 0, 0),
    ("(50) r0 = *(u8 *)skb[r1 + 14]", 0x50, 0, 1, 0, 14),
    # BPF_IND's K is the 32-bit imm; the kernel prints it with %d, so a negative K reads `+ -K`
    ("(40) r0 = *(u32 *)skb[r6 + -37081]", 0x40, 0, 6, 0, -37081),
    ("(48) r0 = *(u16 *)skb[r6 + 2147483647]", 0x48, 0, 6, 0, 0x7FFFFFFF),
    ("(50) r0 = *(u8 *)skb[r2 + -2147483648]", 0x50, 0, 2, 0, -(1 << 31)),
    ("(bf) r1 = addr_space_cast(r2, 0, 1)", 0xBF, 1, 2, 1, 1),
    ("(8d) call r2", 0x8D, 2, 0, 0, 0),
    # a kfunc the verifier cannot name from BTF: __func_get_name's fallback text, BTF id in imm
    ("(85) call kernel-function#1234", 0x85, 0, 2, 0, 1234),
    ("7: (85) call kernel-function#-1", 0x85, 0, 2, 0, -1),
    # helper 0 (BPF_FUNC_unspec) is named in func_id_str[]: a helper call, not a kfunc
    ("(85) call bpf_unspec#0", 0x85, 0, 0, 0, 0),
    ("4: (bc) w0 = w1 ; R0_w=scalar()", 0xBC, 0, 1, 0, 0),
]

UBPF_FORMS = [
    ("mov %r0, 1", 0xB7, 0, 0, 0, 1),
    ("mov r0, 1", 0xB7, 0, 0, 0, 1),
    ("mov %r0, -1", 0xB7, 0, 0, 0, -1),
    ("mov32 %r0, 0xffffffff", 0xB4, 0, 0, 0, -1),
    ("mov %r1, %r2", 0xBF, 1, 2, 0, 0),
    ("mov64 %r1, %r2", 0xBF, 1, 2, 0, 0),
    ("mov32 %r1, %r2", 0xBC, 1, 2, 0, 0),
    ("add %r1, 8", 0x07, 1, 0, 0, 8),
    ("add32 %r1, %r2", 0x0C, 1, 2, 0, 0),
    ("sub %r1, %r2", 0x1F, 1, 2, 0, 0),
    ("mul32 %r1, 3", 0x24, 1, 0, 0, 3),
    ("div %r1, %r2", 0x3F, 1, 2, 0, 0),
    ("sdiv %r1, %r2", 0x3F, 1, 2, 1, 0),
    ("sdiv32 %r1, 3", 0x34, 1, 0, 1, 3),
    ("mod %r1, 3", 0x97, 1, 0, 0, 3),
    ("smod %r1, %r2", 0x9F, 1, 2, 1, 0),
    ("smod32 %r1, -3", 0x94, 1, 0, 1, -3),
    ("or %r1, 0x10", 0x47, 1, 0, 0, 16),
    ("and32 %r1, %r2", 0x5C, 1, 2, 0, 0),
    ("lsh %r1, 3", 0x67, 1, 0, 0, 3),
    ("rsh32 %r1, %r2", 0x7C, 1, 2, 0, 0),
    ("xor %r1, %r1", 0xAF, 1, 1, 0, 0),
    ("arsh %r1, 2", 0xC7, 1, 0, 0, 2),
    ("arsh32 %r1, %r2", 0xCC, 1, 2, 0, 0),
    ("neg %r1", 0x87, 1, 0, 0, 0),
    ("neg32 %r1", 0x84, 1, 0, 0, 0),
    ("neg64 %r1", 0x87, 1, 0, 0, 0),
    ("movsx832 %r2, %r1", 0xBC, 2, 1, 8, 0),
    ("movsx1632 %r2, %r1", 0xBC, 2, 1, 16, 0),
    ("movsx864 %r2, %r1", 0xBF, 2, 1, 8, 0),
    ("movsx1664 %r2, %r1", 0xBF, 2, 1, 16, 0),
    ("movsx3264 %r2, %r1", 0xBF, 2, 1, 32, 0),
    ("be16 %r0", 0xDC, 0, 0, 0, 16),
    ("be32 %r0", 0xDC, 0, 0, 0, 32),
    ("be64 %r0", 0xDC, 0, 0, 0, 64),
    ("le16 %r0", 0xD4, 0, 0, 0, 16),
    ("le64 %r0", 0xD4, 0, 0, 0, 64),
    ("swap16 %r0", 0xD7, 0, 0, 0, 16),
    ("swap32 %r0", 0xD7, 0, 0, 0, 32),
    ("swap64 %r0", 0xD7, 0, 0, 0, 64),
    ("bswap32 %r3", 0xD7, 3, 0, 0, 32),
    ("lddw %r0, 0x1122334455667788", 0x18, 0, 0, 0, 0x1122334455667788),
    ("lddw %r0, 2147483648", 0x18, 0, 0, 0, 2147483648),
    ("lddw %r1, 5, map_fd", 0x18, 1, 1, 0, 5),
    ("ldxb %r0, [%r1+4]", 0x71, 0, 1, 4, 0),
    ("ldxh %r0, [%r1]", 0x69, 0, 1, 0, 0),
    ("ldxw %r0, [%r1+4]", 0x61, 0, 1, 4, 0),
    ("ldxdw %r0, [%r10-8]", 0x79, 0, 10, -8, 0),
    ("ldxb %r0, [%r1+0x10]", 0x71, 0, 1, 16, 0),
    ("ldxsb %r0, [%r10-1]", 0x91, 0, 10, -1, 0),
    ("ldxsh %r0, [%r10-2]", 0x89, 0, 10, -2, 0),
    ("ldxsw %r0, [%r10-4]", 0x81, 0, 10, -4, 0),
    ("stb [%r10-1], 0x80", 0x72, 10, 0, -1, 0x80),
    ("sth [%r1], 0x1234", 0x6A, 1, 0, 0, 0x1234),
    ("stw [%r1+4], -1", 0x62, 1, 0, 4, -1),
    ("stdw [%r10-8], 0xab", 0x7A, 10, 0, -8, 0xAB),
    ("stxb [%r10-1], %r1", 0x73, 10, 1, -1, 0),
    ("stxh [%r10-2], %r1", 0x6B, 10, 1, -2, 0),
    ("stxw [%r10-4], %r1", 0x63, 10, 1, -4, 0),
    ("stxdw [%r10-8], %r1", 0x7B, 10, 1, -8, 0),
    ("ja +2", 0x05, 0, 0, 2, 0),
    ("ja -1", 0x05, 0, 0, -1, 0),
    ("ja32 +5", 0x06, 0, 0, 0, 5),
    ("jeq %r1, 0, +2", 0x15, 1, 0, 2, 0),
    ("jeq %r1, %r2, +2", 0x1D, 1, 2, 2, 0),
    ("jeq32 %r1, 0xb, +1", 0x16, 1, 0, 1, 11),
    ("jne %r1, 0x80000000, +1", 0x55, 1, 0, 1, -(1 << 31)),
    ("jgt %r1, 2, +1", 0x25, 1, 0, 1, 2),
    ("jge %r1, %r2, +1", 0x3D, 1, 2, 1, 0),
    ("jlt %r1, 4, +1", 0xA5, 1, 0, 1, 4),
    ("jle32 %r1, %r2, +1", 0xBE, 1, 2, 1, 0),
    ("jset %r1, 8, +1", 0x45, 1, 0, 1, 8),
    ("jsgt %r1, -1, +1", 0x65, 1, 0, 1, -1),
    ("jsge32 %r1, %r2, +1", 0x7E, 1, 2, 1, 0),
    ("jslt %r1, 0, +1", 0xC5, 1, 0, 1, 0),
    ("jsle32 %r1, 1, +1", 0xD6, 1, 0, 1, 1),
    ("call 1", 0x85, 0, 0, 0, 1),
    ("call helper 6", 0x85, 0, 0, 0, 6),
    ("call local +3", 0x85, 0, 1, 0, 3),
    ("call runtime 77", 0x85, 0, 2, 0, 77),
    ("call %r2", 0x8D, 2, 0, 0, 0),
    ("callx %r3", 0x8D, 3, 0, 0, 0),
    ("exit", 0x95, 0, 0, 0, 0),
    ("lock add [%r10-8], %r1", 0xDB, 10, 1, -8, 0x00),
    ("lock add32 [%r10-8], %r1", 0xC3, 10, 1, -8, 0x00),
    ("lock fetch add [%r10-8], %r1", 0xDB, 10, 1, -8, 0x01),
    ("lock fetch add32 [%r10-8], %r1", 0xC3, 10, 1, -8, 0x01),
    ("lock and [%r10-8], %r1", 0xDB, 10, 1, -8, 0x50),
    ("lock fetch and32 [%r10-8], %r1", 0xC3, 10, 1, -8, 0x51),
    ("lock or [%r10-8], %r1", 0xDB, 10, 1, -8, 0x40),
    ("lock fetch or [%r10-8], %r1", 0xDB, 10, 1, -8, 0x41),
    ("lock xor32 [%r10-8], %r1", 0xC3, 10, 1, -8, 0xA0),
    ("lock fetch xor [%r10-8], %r1", 0xDB, 10, 1, -8, 0xA1),
    ("lock xchg [%r10-8], %r1", 0xDB, 10, 1, -8, 0xE1),
    ("lock xchg32 [%r10-8], %r1", 0xC3, 10, 1, -8, 0xE1),
    ("lock cmpxchg [%r10-8], %r1", 0xDB, 10, 1, -8, 0xF1),
    ("lock cmpxchg32 [%r10-8], %r1", 0xC3, 10, 1, -8, 0xF1),
    ("lock load_acquirew %r0, [%r1+4]", 0xC3, 0, 1, 4, 0x100),
    ("lock store_releasedw [%r1], %r2", 0xDB, 1, 2, 0, 0x110),
    ("ldabsw 4", 0x20, 0, 0, 0, 4),
    ("ldindb %r2, 4", 0x50, 0, 2, 0, 4),
    ("may_goto +2", 0xE5, 0, 0, 2, 0),
    ("addr_space_cast %r1, %r2, 0, 1", 0xBF, 1, 2, 1, 1),
]


def _check(text: str, dialect: str | None, fields: tuple[int, int, int, int, int]) -> None:
    insn = assemble_instruction(text, dialect)
    assert (insn.opcode, insn.dst, insn.src, insn.off, insn.imm) == fields, text
    assert insn.validate() is None, (text, insn.validate())


@pytest.mark.parametrize("row", LLVM_FORMS, ids=[r[0] for r in LLVM_FORMS])
@pytest.mark.parametrize("dialect", ["llvm", None])
def test_llvm_forms(row, dialect):
    _check(row[0], dialect, row[1:])


@pytest.mark.parametrize("row", KERNEL_FORMS, ids=[r[0] for r in KERNEL_FORMS])
@pytest.mark.parametrize("dialect", ["kernel", None])
def test_kernel_log_forms(row, dialect):
    _check(row[0], dialect, row[1:])


@pytest.mark.parametrize("row", UBPF_FORMS, ids=[r[0] for r in UBPF_FORMS])
@pytest.mark.parametrize("dialect", ["ubpf", None])
def test_ubpf_forms(row, dialect):
    _check(row[0], dialect, row[1:])


def test_encoded_bytes_of_lddw_match_the_conformance_raw_section():
    # lddw.data of bpf_conformance lists the raw words it expects for this program.
    program = assemble("lddw %r0, 0x1122334455667788\nexit\n", "ubpf")
    words = [int.from_bytes(program.to_bytes()[i:i + 8], "little") for i in range(0, 24, 8)]
    assert words == [0x5566778800000018, 0x1122334400000000, 0x0000000000000095]


def test_kernel_hex_without_ll_is_a_mov_in_llvm_dialect_and_lddw_in_kernel_dialect():
    assert assemble_instruction("r1 = 0x10", "llvm") == I(0xB7, 1, 0, 0, 16)
    assert assemble_instruction("r1 = 0x10", "kernel") == I(0x18, 1, 0, 0, 16)
    assert assemble_instruction("r1 = 16", "kernel") == I(0xB7, 1, 0, 0, 16)
    # a value only a 64-bit load can hold: lddw when reading kernel text (or guessing), an error for llvm
    assert assemble_instruction("r1 = 0x100000000") == I(0x18, 1, 0, 0, 1 << 32)
    with pytest.raises(AsmError) as e:
        assemble("r1 = 0x100000000", "llvm")
    assert "out of 32-bit range" in e.value.message and e.value.column == 6


def test_llvm_objdump_lines_read_their_bytes_and_headers():
    text = """
prog.o:\tfile format elf64-bpf

Disassembly of section xdp:

0000000000000000 <xdp_prog>:
       0:\tb7 00 00 00 02 00 00 00\tr0 = 2
       1:\t18 01 00 00 00 00 00 00 00 00 00 00 00 00 00 00\tr1 = 0 ll
\t\t0000000000000008:  R_BPF_64_64\tcounts
       3:\t05 00 01 00 00 00 00 00\tgoto +1 <LBB0_2>
       4:\tb7 00 00 00 01 00 00 00\tr0 = 1

0000000000000028 <LBB0_2>:
       5:\t95 00 00 00 00 00 00 00\texit
"""
    program = assemble(text, maps=[_spec("counts")])
    assert program.prog_type is not None and program.prog_type.name == "XDP"
    assert program.instructions == [
        I(0xB7, 0, 0, 0, 2), I(0x18, 1, 1, 0, 0, "counts"), I(0x05, 0, 0, 1, 0), I(0xB7, 0, 0, 0, 1),
        I(0x95, 0, 0, 0, 0)]
    assert program.labels == {"xdp_prog": 0, "LBB0_2": 5}


def _spec(name: str):
    from pyebpf.abi.maps import MapSpec, MapType
    return MapSpec(name, MapType.HASH, 4, 8, 16)


def test_labels_count_slots_and_resolve_both_directions():
    program = assemble("""
start:
    r1 = 0x1122334455667788 ll   # two slots
    if r1 == 0 goto done
back:
    r1 += -1
    if r1 != 0 goto back
    gotol done
done:
    exit
""")
    assert program.labels == {"start": 0, "back": 3, "done": 6}
    assert program.instructions[1].off == 3  # slot 2 -> slot 6
    assert program.instructions[3].off == -2  # slot 4 -> slot 3
    assert program.instructions[4] == I(0x06, 0, 0, 0, 0)  # slot 5 -> slot 6: gotol keeps it in imm


def test_label_and_instruction_on_one_line_and_llvm_dot_labels():
    program = assemble(".LBB0_1: r0 = 0\n goto .LBB0_1\nexit")
    assert program.labels == {".LBB0_1": 0}
    assert program.instructions[1].off == -2


def test_local_functions_pseudo_calls_and_function_addresses():
    program = assemble("""
    call sub
    r1 = func[sub] ll
    r2 = sub ll
    call local sub
    exit
sub:
    r0 = 1
    exit
""")
    call, f1, f2, call2 = program.instructions[:4]
    # slots: call 0, lddw 1-2, lddw 3-4, call 5, exit 6, sub at 7
    assert call == I(0x85, 0, 1, 0, 6)
    assert f1 == I(0x18, 1, 4, 0, 5)
    assert f2 == I(0x18, 2, 4, 0, 3)
    assert call2 == I(0x85, 0, 1, 0, 1)


def test_maps_by_name_and_map_values():
    program = assemble("""
.map counts hash key=4 value=8 max_entries=1024
.map cfg array key=4 value=64 max_entries=1 flags=1024
    r1 = map[counts] ll
    r2 = map_value[cfg] + 8 ll
    r3 = map_value[cfg] ll
    exit
""")
    assert program.instructions[0] == I(0x18, 1, 1, 0, 0, "counts")
    assert program.instructions[1] == I(0x18, 2, 2, 0, 8 << 32, "cfg")
    assert program.instructions[1].imm_hi == 8 and program.instructions[1].imm_lo == 0
    assert program.instructions[2] == I(0x18, 3, 2, 0, 0, "cfg")
    counts, cfg = program.maps["counts"], program.maps["cfg"]
    assert (counts.type.name, counts.key_size, counts.value_size, counts.max_entries) == ("HASH", 4, 8, 1024)
    assert (cfg.type.name, cfg.value_size, cfg.flags) == ("ARRAY", 64, 1024)
    assert [slot for slot, _, _ in program.map_references()] == [0, 2, 4]


def test_directives_set_program_fields():
    program = assemble("""
.section tracepoint/syscalls/sys_enter_openat
.license "Dual BSD/GPL"
.name count_opens
.map events ringbuf max_entries=4096
    r0 = 0
    exit
""")
    assert program.prog_type.name == "TRACEPOINT"
    assert program.attach_to == "syscalls/sys_enter_openat"
    assert program.license == "Dual BSD/GPL"
    assert program.name == "count_opens"
    ev = program.maps["events"]
    assert (ev.type.name, ev.key_size, ev.value_size, ev.max_entries) == ("RINGBUF", 0, 0, 4096)
    assert assemble(".type xdp\nexit").prog_type.name == "XDP"
    assert assemble("exit").license == "GPL"
    xdp = assemble(".section xdp\nexit")
    assert xdp.prog_type.name == "XDP" and xdp.expected_attach_type.name == "XDP"


def test_clang_s_output_reads():
    text = """
\t.text
\t.file\t"prog.c"
\t.section\t"xdp","ax",@progbits
\t.globl\tprog
\t.p2align\t3
\t.type\tprog,@function
prog:
\tr0 = 2
\texit
.Lfunc_end0:
\t.size\tprog, .Lfunc_end0-prog
\t.section\t.maps,"aw",@progbits
counts:
\t.zero\t32
\t.addrsig
"""
    program = assemble(text)
    assert program.prog_type.name == "XDP"
    assert program.instructions == [I(0xB7, 0, 0, 0, 2), I(0x95)]


def test_ind_packet_load_reads_k_as_a_32_bit_immediate():
    """BPF_IND keeps K in imm (32 bits), not in off: values beyond 16 bits assemble, spelled any way."""
    assert assemble_instruction("r0 = *(u32 *)skb[r6 + 100000]", "llvm") == I(0x40, 0, 6, 0, 100000)
    assert assemble_instruction("r0 = *(u32 *)skb[r6 - 100000]", "llvm") == I(0x40, 0, 6, 0, -100000)
    assert assemble_instruction("r0 = *(u8 *)skb[r1 + 0xffffffff]", "kernel") == I(0x50, 0, 1, 0, -1)
    for bad, message in (("r0 = *(u32 *)skb[r6 + 4294967296]", "immediate 4294967296 out of 32-bit range"),
                         ("r0 = *(u32 *)skb[w6 + 4]", "a packet index takes a 64-bit register (r6), not w6")):
        with pytest.raises(AsmError) as e:
            assemble(bad, "kernel")
        assert message in e.value.message, e.value.message


def test_unnamed_kfunc_text_of_the_kernel_round_trips():
    """format_insn prints a kfunc without a BTF name as `call kernel-function#N`; it must assemble back."""
    from pyebpf.isa.disassembler import disassemble
    from pyebpf.isa.program import Program

    program = Program([I(0x85, 0, 2, 0, imm) for imm in (1, 1234, 0x7FFFFFFF, -(1 << 31))] + [I(0x95)])
    text = disassemble(program, "kernel")
    assert "call kernel-function#1234" in text
    assert assemble(text, "kernel").instructions == program.instructions


def test_helper_zero_text_of_the_kernel_round_trips_as_a_helper_call():
    """The kernel prints helper 0 as `call bpf_unspec#0` and a kfunc with BTF id 0 as `call kernel-function#0`:
    each assembles back to its own src."""
    from pyebpf.isa.disassembler import disassemble
    from pyebpf.isa.program import Program

    program = Program([I(0x85, 0, 0, 0, 0), I(0x85, 0, 2, 0, 0), I(0x95)])
    text = disassemble(program, "kernel")
    assert text.splitlines()[:2] == ["0: (85) call bpf_unspec#0", "1: (85) call kernel-function#0"]
    assert assemble(text, "kernel").instructions == program.instructions
    assert assemble("call bpf_unspec", "kernel").instructions == [I(0x85, 0, 0, 0, 0)]
    with pytest.raises(AsmError) as e:
        assemble("call bpf_unspec#1", "kernel")
    assert "helper bpf_unspec is #0, not #1" in e.value.message


def test_kfunc_directive_and_helpers_by_number_and_extra_helpers():
    program = assemble(".kfunc bpf_rcu_read_lock 4242\ncall bpf_rcu_read_lock\ncall my_helper\ncall 0x10\nexit",
                       helpers={"my_helper": 0x7001})
    assert program.instructions[:3] == [I(0x85, 0, 2, 0, 4242), I(0x85, 0, 0, 0, 0x7001), I(0x85, 0, 0, 0, 16)]


def test_ubpf_implicit_exit_label_is_the_first_exit():
    program = assemble("mov %r0, 1\njeq %r0, 1, exit\nmov %r0, 2\nexit\nmov %r0, 3\nexit", "ubpf")
    assert program.instructions[1].off == 1
    assert program.labels == {"exit": 3}


def test_comments_of_every_style():
    program = assemble("r0 = 1 # hash\nr0 += 2 ; semicolon\nr0 += 3 // slashes\n# whole line\n; also\nexit")
    assert [i.imm for i in program.instructions] == [1, 2, 3, 0]


def test_mixed_dialects_line_by_line_when_not_told():
    program = assemble("mov %r0, 1\nr0 += 2\nexit")
    assert program.instructions == [I(0xB7, 0, 0, 0, 1), I(0x07, 0, 0, 0, 2), I(0x95)]


def test_unknown_dialect_is_rejected():
    with pytest.raises(ValueError):
        assemble("exit", dialect="gas")


def test_empty_text_is_an_empty_program():
    assert assemble("").instructions == []
    assert assemble("\n# nothing\n").instructions == []


def test_objdump_text_without_bytes_uses_relocations_for_calls_and_maps():
    text = """
0000000000000000 <prog>:
       0:\tcall -1
\t\t0000000000000000:  R_BPF_64_32\tsub
       1:\tr1 = 0 ll
\t\t0000000000000008:  R_BPF_64_64\tcounts
       3:\texit

0000000000000020 <sub>:
       4:\tr0 = 1
       5:\texit
"""
    program = assemble(text, maps=[_spec("counts")])
    assert program.instructions[:2] == [I(0x85, 0, 1, 0, 3), I(0x18, 1, 1, 0, 0, "counts")]
    assert program.labels == {"prog": 0, "sub": 4}
