"""Cross-check our decoding with capstone 5.0's BPF decoder on the forms it decodes correctly.

capstone 5.0 is a weak oracle for eBPF and is used only where it is right. It silently shows sdiv/smod as div/mod
(ignores off), movsx as mov, every atomic as `xadd`, lddw with a pseudo source and every call as if plain; and it
does not decode JMP32, gotol, may_goto, bswap (ALU64 END), sign-extending loads, or anything writing r10. So the
strategy below keeps to ALU/ALU64 without cpu v4 forms, JMP (not JMP32), plain loads and stores, atomic add, plain
lddw, helper calls, exit and LD_ABS/IND, and compares mnemonic, register operands, immediates and memory offsets
with our decode.
"""
from __future__ import annotations

import pytest
from hypothesis import given, settings

from pyebpf.abi.opcodes import (
    CLASS_MASK, MODE_MASK, OP_CALL, OP_EXIT, OP_JA, OP_LD_IMM64, OP_MASK, SIZE_MASK, SOURCE_MASK, AluOp, AtomicOp,
    EndSource, InsnClass, JmpOp, Mode, Size, Source,
)
from pyebpf.isa.instruction import Instruction, decode
from pyebpf.testing.strategies import instructions

capstone = pytest.importorskip("capstone")

_ALU = {AluOp.ADD: "add", AluOp.SUB: "sub", AluOp.MUL: "mul", AluOp.DIV: "div", AluOp.OR: "or", AluOp.AND: "and",
        AluOp.LSH: "lsh", AluOp.RSH: "rsh", AluOp.NEG: "neg", AluOp.MOD: "mod", AluOp.XOR: "xor", AluOp.MOV: "mov",
        AluOp.ARSH: "arsh"}
_JMP = {JmpOp.JEQ: "jeq", JmpOp.JGT: "jgt", JmpOp.JGE: "jge", JmpOp.JSET: "jset", JmpOp.JNE: "jne",
        JmpOp.JSGT: "jsgt", JmpOp.JSGE: "jsge", JmpOp.JLT: "jlt", JmpOp.JLE: "jle", JmpOp.JSLT: "jslt",
        JmpOp.JSLE: "jsle"}
_SIZE = {Size.B: "b", Size.H: "h", Size.W: "w", Size.DW: "dw"}


def capstone_decodes_correctly(i: Instruction) -> bool:
    cls, op = i.opcode & CLASS_MASK, i.opcode & OP_MASK
    if cls in (InsnClass.ALU, InsnClass.ALU64, InsnClass.LDX, InsnClass.LD) and i.dst == 10:
        return False  # capstone refuses any instruction that writes r10
    if cls in (InsnClass.ALU, InsnClass.ALU64):
        return i.off == 0 and not (cls == InsnClass.ALU64 and op == AluOp.END)
    if cls == InsnClass.JMP32 or i.opcode in (OP_JA | JmpOp.JCOND,):
        return False
    if cls == InsnClass.JMP:
        return op != JmpOp.JCOND and (i.opcode != OP_CALL or i.src == 0) and i.opcode & 0xF8 != 0x88
    if cls == InsnClass.LDX:
        return i.opcode & MODE_MASK == Mode.MEM
    if cls == InsnClass.STX and i.opcode & MODE_MASK == Mode.ATOMIC:
        return i.imm == AtomicOp.ADD
    if i.opcode == OP_LD_IMM64:
        return i.src == 0
    return True


def expected(i: Instruction) -> tuple[str, list]:
    """capstone's mnemonic and operands for our decoded instruction (regs by name, numbers as capstone shows them)."""
    cls, op, size = i.opcode & CLASS_MASK, i.opcode & OP_MASK, i.opcode & SIZE_MASK
    u16, u32 = i.off & 0xFFFF, i.imm & 0xFFFFFFFF
    r = lambda n: ("reg", f"r{n}")  # noqa: E731
    if cls in (InsnClass.ALU, InsnClass.ALU64):
        if op == AluOp.END:
            return ("be" if i.opcode & SOURCE_MASK == EndSource.TO_BE else "le") + str(i.imm), [r(i.dst)]
        name = _ALU[op] + ("64" if cls == InsnClass.ALU64 else "")
        if op == AluOp.NEG:
            return name, [r(i.dst)]
        return name, [r(i.dst), r(i.src) if i.opcode & SOURCE_MASK == Source.X else ("imm", u32)]
    if cls == InsnClass.JMP:
        if i.opcode == OP_JA:
            return "jmp", [("off", u16)]
        if i.opcode == OP_EXIT:
            return "exit", []
        if i.opcode == OP_CALL:
            return "call", [("imm", u32)]
        src = r(i.src) if i.opcode & SOURCE_MASK == Source.X else ("imm", u32)
        return _JMP[op], [r(i.dst), src, ("off", u16)]
    if cls == InsnClass.LDX:
        return "ldx" + _SIZE[size], [r(i.dst), ("mem", f"r{i.src}", u16)]
    if cls == InsnClass.ST:
        return "st" + _SIZE[size], [("mem", f"r{i.dst}", u16), ("imm", u32)]
    if cls == InsnClass.STX:
        name = ("xadd" if i.opcode & MODE_MASK == Mode.ATOMIC else "stx") + _SIZE[size]
        return name, [("mem", f"r{i.dst}", u16), r(i.src)]
    if i.opcode == OP_LD_IMM64:
        return "lddw", [r(i.dst), ("imm", i.imm & 0xFFFFFFFFFFFFFFFF)]
    base = f"r{i.src}" if i.opcode & MODE_MASK == Mode.IND else None
    return "ld" + _SIZE[size], [("mem", base, i.imm)]


def capstone_view(md, data: bytes) -> tuple[str, list] | None:
    decoded = list(md.disasm(data, 0, 1))
    if not decoded:
        return None
    c = decoded[0]
    ops = []
    for o in c.operands:
        if o.type == capstone.bpf.BPF_OP_REG:
            ops.append(("reg", c.reg_name(o.reg)))
        elif o.type == capstone.bpf.BPF_OP_IMM:
            ops.append(("imm", o.imm))
        elif o.type == capstone.bpf.BPF_OP_OFF:
            ops.append(("off", o.off))
        elif o.type == capstone.bpf.BPF_OP_MEM:
            ops.append(("mem", c.reg_name(o.mem.base) if o.mem.base else None, o.mem.disp))
        else:
            ops.append(("other", o.type))
    return c.mnemonic, ops


@pytest.fixture(scope="module")
def md():
    cs = capstone.Cs(capstone.CS_ARCH_BPF, capstone.CS_MODE_BPF_EXTENDED)
    cs.detail = True
    return cs


@settings(max_examples=500, deadline=None)
@given(insn=instructions(kernel=True).filter(capstone_decodes_correctly))
def test_capstone_agrees_with_our_decode(md, insn):
    data = insn.encode()
    assert decode(data) == [insn]
    assert capstone_view(md, data) == expected(insn)


def test_capstone_limits_are_what_we_say(md):
    """The forms excluded above really are mis-decoded or not decoded by this capstone."""
    sdiv = Instruction(0x3F, 1, 2, 1)
    assert capstone_view(md, sdiv.encode())[0] == "div64"  # sdiv shown as div
    fetch_or = Instruction(0xDB, 10, 1, -8, AtomicOp.FETCH_OR)
    assert capstone_view(md, fetch_or.encode())[0] == "xadddw"  # every atomic shown as xadd
    for undecoded in (Instruction(0x1E, 1, 2, 1), Instruction(0x06, 0, 0, 0, 5), Instruction(0xD7, 1, 0, 0, 16),
                      Instruction(0x91, 1, 2, 0)):
        assert capstone_view(md, undecoded.encode()) is None
