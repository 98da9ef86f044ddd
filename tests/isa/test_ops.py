"""isa/ops.py: every constructor makes the instruction its name promises.

Each row is a constructor call and the text of the instruction it makes in the three dialects (the kernel's
print_bpf_insn, llvm-objdump, uBPF). The call must survive encode -> decode unchanged (so the decoder, which applies
the kernel's reserved-field rules, accepts it) and disassemble to exactly that text.
"""
from __future__ import annotations

import pytest

from pyebpf.abi.helpers import HelperId
from pyebpf.abi.opcodes import AluOp, AtomicOp, JmpOp, PseudoSrc, Size
from pyebpf.isa import ops
from pyebpf.isa.disassembler import format_instruction
from pyebpf.isa.instruction import VALID_OPCODES, decode

_NAMES = {"ops": ops, "AluOp": AluOp, "JmpOp": JmpOp, "Size": Size, "AtomicOp": AtomicOp, "HelperId": HelperId,
          "PseudoSrc": PseudoSrc}

CASES = [
    ('ops.mov(0, imm=42)', '(b7) r0 = 42', 'r0 = 42', 'mov %r0, 0x2a'),
    ('ops.mov(1, src=2)', '(bf) r1 = r2', 'r1 = r2', 'mov %r1, %r2'),
    ('ops.mov32(3, imm=-1)', '(b4) w3 = -1', 'w3 = -1', 'mov32 %r3, -1'),
    ('ops.mov32(3, src=4)', '(bc) w3 = w4', 'w3 = w4', 'mov32 %r3, %r4'),
    ('ops.alu("add", 1, imm=5)', '(07) r1 += 5', 'r1 += 5', 'add %r1, 5'),
    ('ops.alu(AluOp.SUB, 1, src=2)', '(1f) r1 -= r2', 'r1 -= r2', 'sub %r1, %r2'),
    ('ops.alu32("<<", 2, imm=3)', '(64) w2 <<= 3', 'w2 <<= 3', 'lsh32 %r2, 3'),
    ('ops.alu("div", 1, src=2, signed=True)', '(3f) r1 s/= r2', 'r1 s/= r2', 'sdiv %r1, %r2'),
    ('ops.alu32(AluOp.MOD, 1, imm=7, signed=True)', '(94) w1 s%= 7', 'w1 s%= 7', 'smod32 %r1, 7'),
    ('ops.alu("s>>", 6, imm=1)', '(c7) r6 s>>= 1', 'r6 s>>= 1', 'arsh %r6, 1'),
    ('ops.movsx(1, 2, 32)', '(bf) r1 = (s32)r2', 'r1 = (s32)r2', 'movsx3264 %r1, %r2'),
    ('ops.movsx32(1, 2, 8)', '(bc) w1 = (s8)w2', 'w1 = (s8)w2', 'movsx832 %r1, %r2'),
    ('ops.neg(5)', '(87) r5 = -r5', 'r5 = -r5', 'neg %r5'),
    ('ops.neg32(5)', '(84) w5 = -w5', 'w5 = -w5', 'neg32 %r5'),
    ('ops.to_be(1, 16)', '(dc) r1 = be16 r1', 'r1 = be16 r1', 'be16 %r1'),
    ('ops.to_le(1, 32)', '(d4) r1 = le32 r1', 'r1 = le32 r1', 'le32 %r1'),
    ('ops.endian(2, 64, big=True)', '(dc) r2 = be64 r2', 'r2 = be64 r2', 'be64 %r2'),
    ('ops.bswap(3, 64)', '(d7) r3 = bswap64 r3', 'r3 = bswap64 r3', 'bswap64 %r3'),
    ('ops.addr_space_cast(1, 2, 1, 0)', '(bf) r1 = addr_space_cast(r2, 1, 0)', 'r1 = addr_space_cast(r2, 1, 0)', 'addr_space_cast %r1, %r2, 1, 0'),
    ('ops.lddw(1, 0x123456789)', '(18) r1 = 0x123456789', 'r1 = 4886718345 ll', 'lddw %r1, 0x123456789'),
    ('ops.lddw(2, -1)', '(18) r2 = 0xffffffffffffffff', 'r2 = -1 ll', 'lddw %r2, 0xffffffffffffffff'),
    ('ops.ld_map_fd(1, 5)', '(18) r1 = 0x5', 'ld_pseudo\tr1, 1, 5', 'lddw %r1, 0x5, map_fd'),
    ('ops.ld_map_value(1, 5, 8)', '(18) r1 = 0x800000005', 'ld_pseudo\tr1, 2, 5', 'lddw %r1, 0x800000005, map_value'),
    ('ops.ld_func(2, 3)', '(18) r2 = 0x3', 'ld_pseudo\tr2, 4, 3', 'lddw %r2, 0x3, func'),
    ('ops.ld_btf_id(3, 77)', '(18) r3 = 0x4d', 'ld_pseudo\tr3, 3, 77', 'lddw %r3, 0x4d, btf_id'),
    ('ops.ldx("u32", 0, 1, 4)', '(61) r0 = *(u32 *)(r1 +4)', 'r0 = *(u32 *)(r1 + 4)', 'ldxw %r0, [%r1+4]'),
    ('ops.ldx(Size.DW, 2, 10, -8)', '(79) r2 = *(u64 *)(r10 -8)', 'r2 = *(u64 *)(r10 - 8)', 'ldxdw %r2, [%r10-8]'),
    ('ops.ldx(2, 3, 1, 0, signed=True)', '(89) r3 = *(s16 *)(r1 +0)', 'r3 = *(s16 *)(r1 + 0)', 'ldxsh %r3, [%r1]'),
    ('ops.ldxsx("s8", 4, 1, 2)', '(91) r4 = *(s8 *)(r1 +2)', 'r4 = *(s8 *)(r1 + 2)', 'ldxsb %r4, [%r1+2]'),
    ('ops.ldx("s32", 4, 1, 2)', '(81) r4 = *(s32 *)(r1 +2)', 'r4 = *(s32 *)(r1 + 2)', 'ldxsw %r4, [%r1+2]'),
    ('ops.st("u64", 10, -8, 7)', '(7a) *(u64 *)(r10 -8) = 7', '*(u64 *)(r10 - 8) = 7', 'stdw [%r10-8], 7'),
    ('ops.stx(8, 10, 1, -16)', '(7b) *(u64 *)(r10 -16) = r1', '*(u64 *)(r10 - 16) = r1', 'stxdw [%r10-16], %r1'),
    ('ops.stx("u16", 1, 2, 2)', '(6b) *(u16 *)(r1 +2) = r2', '*(u16 *)(r1 + 2) = r2', 'stxh [%r1+2], %r2'),
    ('ops.atomic("add", "u64", 10, 1, -8)', '(db) lock *(u64 *)(r10 -8) += r1', 'lock *(u64 *)(r10 - 8) += r1', 'lock add [%r10-8], %r1'),
    ('ops.atomic("or", "u32", 10, 1, -8, fetch=True)', '(c3) r1 = atomic_fetch_or((u32 *)(r10 -8), r1)', 'w1 = atomic_fetch_or((u32 *)(r10 - 8), w1)', 'lock fetch or32 [%r10-8], %r1'),
    ('ops.atomic(AtomicOp.FETCH_XOR, 8, 2, 3, 0)', '(db) r3 = atomic64_fetch_xor((u64 *)(r2 +0), r3)', 'r3 = atomic_fetch_xor((u64 *)(r2 + 0), r3)', 'lock fetch xor [%r2], %r3'),
    ('ops.xchg("u64", 1, 2, 8)', '(db) r2 = atomic64_xchg((u64 *)(r1 +8), r2)', 'r2 = xchg_64(r1 + 8, r2)', 'lock xchg [%r1+8], %r2'),
    ('ops.cmpxchg("u32", 1, 2, 0)', '(c3) r0 = atomic_cmpxchg((u32 *)(r1 +0), r0, r2)', 'w0 = cmpxchg32_32(r1 + 0, w0, w2)', 'lock cmpxchg32 [%r1], %r2'),
    ('ops.load_acquire("u64", 0, 1, 8)', '(db) r0 = load_acquire((u64 *)(r1 +8))', 'r0 = load_acquire((u64 *)(r1 + 8))', 'lock load_acquiredw %r0, [%r1+8]'),
    ('ops.store_release("u32", 1, 2, 4)', '(c3) store_release((u32 *)(r1 +4), r2)', 'store_release((u32 *)(r1 + 4), w2)', 'lock store_releasew [%r1+4], %r2'),
    ('ops.ld_abs("u8", 12)', '(30) r0 = *(u8 *)skb[12]', 'r0 = *(u8 *)skb[12]', 'ldabsb 0xc'),
    ('ops.ld_ind("u16", 6, 14)', '(48) r0 = *(u16 *)skb[r6 + 14]', 'r0 = *(u16 *)skb[r6]', 'ldindh %r6, 0xe'),
    ('ops.jmp("==", 1, imm=0, off=3)', '(15) if r1 == 0x0 goto pc+3', 'if r1 == 0 goto +3', 'jeq %r1, 0, +3'),
    ('ops.jmp(JmpOp.JSGT, 1, src=2, off=-2)', '(6d) if r1 s> r2 goto pc-2', 'if r1 s> r2 goto -2', 'jsgt %r1, %r2, -2'),
    ('ops.jmp32("jset", 3, imm=8, off=1)', '(46) if w3 & 0x8 goto pc+1', 'if w3 & 8 goto +1', 'jset32 %r3, 8, +1'),
    ('ops.jmp32("<=", 3, src=4, off=5)', '(be) if w3 <= w4 goto pc+5', 'if w3 <= w4 goto +5', 'jle32 %r3, %r4, +5'),
    ('ops.ja(4)', '(05) goto pc+4', 'goto +4', 'ja +4'),
    ('ops.gotol(70000)', '(06) gotol pc+70000', 'gotol +70000', 'ja32 +70000'),
    ('ops.may_goto(2)', '(e5) may_goto pc+2', 'may_goto +2', 'may_goto +2'),
    ('ops.call("map_lookup_elem")', '(85) call bpf_map_lookup_elem#1', 'call 1', 'call 1'),
    ('ops.call(HelperId.KTIME_GET_NS)', '(85) call bpf_ktime_get_ns#5', 'call 5', 'call 5'),
    ('ops.call(6)', '(85) call bpf_trace_printk#6', 'call 6', 'call 6'),
    ('ops.call_local(10)', '(85) call pc+10', 'call 10', 'call local +10'),
    ('ops.kfunc_call(1234)', '(85) call kernel-function#1234', 'call 1234', 'call runtime 0x4d2'),
    ('ops.callx(3)', '(8d) call r3', 'callx r3', 'call %r3'),
    ('ops.exit()', '(95) exit', 'exit', 'exit'),]


@pytest.mark.parametrize("call, kernel, llvm, ubpf", CASES, ids=[c[0] for c in CASES])
def test_constructor_round_trips_and_prints(call: str, kernel: str, llvm: str, ubpf: str) -> None:
    insn = eval(call, _NAMES)  # noqa: S307 - the table above, not input
    assert decode(insn.encode()) == [insn._replace(ref=None)]
    assert insn.validate() is None
    assert format_instruction(insn, "kernel") == kernel
    assert format_instruction(insn, "llvm") == llvm
    assert format_instruction(insn, "ubpf") == ubpf


def test_every_opcode_the_decoder_accepts_has_a_constructor() -> None:
    made = {eval(call, _NAMES).opcode for call, *_ in CASES}  # noqa: S307
    made |= {ops.alu(op, 1, imm=1).opcode for op in AluOp if op not in (AluOp.NEG, AluOp.END)}
    made |= {ops.alu(op, 1, src=2).opcode for op in AluOp if op not in (AluOp.NEG, AluOp.END)}
    made |= {ops.alu32(op, 1, imm=1).opcode for op in AluOp if op not in (AluOp.NEG, AluOp.END)}
    made |= {ops.alu32(op, 1, src=2).opcode for op in AluOp if op not in (AluOp.NEG, AluOp.END)}
    made |= {ops.to_le(1, 16).opcode, ops.neg(1).opcode, ops.neg32(1).opcode}
    conds = [op for op in JmpOp if op not in (JmpOp.JA, JmpOp.CALL, JmpOp.EXIT, JmpOp.JCOND)]
    for make in (ops.jmp, ops.jmp32):
        made |= {make(op, 1, imm=0).opcode for op in conds} | {make(op, 1, src=2).opcode for op in conds}
    for size in Size:
        made |= {ops.ldx(size, 1, 2).opcode, ops.st(size, 1, 0, 0).opcode, ops.stx(size, 1, 2).opcode,
                 ops.xchg(size, 1, 2).opcode}
        if size != Size.DW:
            made |= {ops.ldxsx(size, 1, 2).opcode, ops.ld_abs(size, 0).opcode, ops.ld_ind(size, 1).opcode}
    assert VALID_OPCODES - made == set()


@pytest.mark.parametrize("name, expected", [("add", AluOp.ADD), ("ARSH", AluOp.ARSH), ("s>>", AluOp.ARSH),
                                            ("%", AluOp.MOD), (AluOp.XOR, AluOp.XOR), (0xB0, AluOp.MOV)])
def test_alu_names(name, expected) -> None:
    assert ops.alu_op(name) is expected


@pytest.mark.parametrize("name, expected", [("jeq", JmpOp.JEQ), ("s<=", JmpOp.JSLE), ("&", JmpOp.JSET),
                                            ("JNE", JmpOp.JNE)])
def test_jump_names(name, expected) -> None:
    assert ops.jmp_op(name) is expected


def test_helper_names_and_ids_agree() -> None:
    for helper in (HelperId.MAP_LOOKUP_ELEM, HelperId.TRACE_PRINTK, HelperId.RINGBUF_OUTPUT):
        want = ops.call(helper)
        assert ops.call(helper.name.lower()) == want
        assert ops.call("bpf_" + helper.name.lower()) == want
        assert ops.call(int(helper)) == want


@pytest.mark.parametrize("bad", [lambda: ops.alu("rol", 1, imm=1), lambda: ops.jmp("=~", 1, imm=0),
                                 lambda: ops.ldx("u128", 1, 2), lambda: ops.ldx(3, 1, 2),
                                 lambda: ops.atomic("nand", 8, 1, 2), lambda: ops.call("no_such_helper"),
                                 lambda: ops.alu(0x0F, 1, imm=1)])
def test_unknown_names_are_typed_errors(bad) -> None:
    with pytest.raises(ops.OpsError):
        bad()


def test_refs_are_kept_for_the_linker() -> None:
    assert ops.ld_map_fd(1, ref="counts").ref == "counts"
    assert ops.jmp("==", 1, imm=0, ref="out").ref == "out"
    assert ops.call_local(ref="helper_fn").ref == "helper_fn"
    assert ops.ja(ref="top").ref == "top"
