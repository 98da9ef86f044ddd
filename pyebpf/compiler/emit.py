"""The instruction constructors the lowering uses: the one place that spells opcodes.

Kept small and separate so that switching to `pyebpf.isa.ops` (when it lands) is a change to this file only.
Jumps are emitted with a symbolic target (`Jmp.label`) that `lower.link` turns into slot offsets.
"""
from __future__ import annotations

from dataclasses import dataclass

from pyebpf.abi.opcodes import (
    OP_CALL, OP_EXIT, OP_JA, OP_LD_IMM64, SIGNED_DIVMOD_OFF, AluOp, AtomicOp, BYTES_SIZE, EndSource, InsnClass,
    JmpOp, Mode,
    PseudoSrc, Source,
)
from pyebpf.isa.instruction import Instruction

S32_MIN, S32_MAX = -(1 << 31), (1 << 31) - 1

ALU = {"add": AluOp.ADD, "sub": AluOp.SUB, "mul": AluOp.MUL, "div": AluOp.DIV, "mod": AluOp.MOD, "or": AluOp.OR,
       "and": AluOp.AND, "xor": AluOp.XOR, "lsh": AluOp.LSH, "rsh": AluOp.RSH, "arsh": AluOp.ARSH}
JMP = {"eq": JmpOp.JEQ, "ne": JmpOp.JNE, "gt": JmpOp.JGT, "ge": JmpOp.JGE, "lt": JmpOp.JLT, "le": JmpOp.JLE,
       "sgt": JmpOp.JSGT, "sge": JmpOp.JSGE, "slt": JmpOp.JSLT, "sle": JmpOp.JSLE, "set": JmpOp.JSET}


def fits_imm(value: int) -> bool:
    return S32_MIN <= value <= S32_MAX


def s32(value: int) -> int:
    """The low 32 bits of `value` as a signed immediate (what a 32-bit ALU op or store of it needs)."""
    return ((value & 0xFFFFFFFF) ^ 0x80000000) - 0x80000000


def _cls(wide: bool) -> int:
    return InsnClass.ALU64 if wide else InsnClass.ALU


def alu_reg(op: str, dst: int, src: int, wide: bool = True, signed: bool = False) -> Instruction:
    off = SIGNED_DIVMOD_OFF if signed and op in ("div", "mod") else 0
    return Instruction(_cls(wide) | ALU[op] | Source.X, dst, src, off, 0)


def alu_imm(op: str, dst: int, imm: int, wide: bool = True, signed: bool = False) -> Instruction:
    off = SIGNED_DIVMOD_OFF if signed and op in ("div", "mod") else 0
    return Instruction(_cls(wide) | ALU[op] | Source.K, dst, 0, off, imm)


def neg(dst: int, wide: bool = True) -> Instruction:
    return Instruction(_cls(wide) | AluOp.NEG, dst, 0, 0, 0)


def mov_reg(dst: int, src: int, wide: bool = True) -> Instruction:
    return Instruction(_cls(wide) | AluOp.MOV | Source.X, dst, src, 0, 0)


def movsx(dst: int, src: int, bits: int) -> Instruction:
    """dst = (s64)(s<bits>)src (cpu v4)."""
    return Instruction(InsnClass.ALU64 | AluOp.MOV | Source.X, dst, src, bits, 0)


def to_be(dst: int, bits: int) -> Instruction:
    """dst = htobe<bits>(dst): a byte swap on little-endian hosts (BPF_END | BPF_TO_BE), upper bits zeroed."""
    return Instruction(InsnClass.ALU | AluOp.END | EndSource.TO_BE, dst, 0, 0, bits)


def mov_imm(dst: int, imm: int) -> Instruction:
    """dst = imm: a 32-bit mov (sign-extended) when it fits, else lddw."""
    if fits_imm(imm):
        return Instruction(InsnClass.ALU64 | AluOp.MOV | Source.K, dst, 0, 0, imm)
    if imm >= 1 << 63:
        imm -= 1 << 64
    return Instruction(OP_LD_IMM64, dst, 0, 0, imm)


def ld_map(dst: int, name: str, value_off: int | None = None) -> Instruction:
    if value_off is None:
        return Instruction(OP_LD_IMM64, dst, PseudoSrc.MAP_FD, 0, 0, ref=name)
    return Instruction(OP_LD_IMM64, dst, PseudoSrc.MAP_VALUE, 0, value_off << 32, ref=name)


def ldx(dst: int, base: int, off: int, size: int, signed: bool = False) -> Instruction:
    mode = Mode.MEMSX if signed and size < 8 else Mode.MEM
    return Instruction(InsnClass.LDX | mode | BYTES_SIZE[size], dst, base, off, 0)


def stx(base: int, off: int, src: int, size: int) -> Instruction:
    return Instruction(InsnClass.STX | Mode.MEM | BYTES_SIZE[size], base, src, off, 0)


def st(base: int, off: int, imm: int, size: int) -> Instruction:
    return Instruction(InsnClass.ST | Mode.MEM | BYTES_SIZE[size], base, 0, off, imm)


def atomic_add(base: int, off: int, src: int, size: int) -> Instruction:
    return Instruction(InsnClass.STX | Mode.ATOMIC | BYTES_SIZE[size], base, src, off, AtomicOp.ADD)


def call(helper: int) -> Instruction:
    return Instruction(OP_CALL, 0, 0, 0, int(helper))


def exit_() -> Instruction:
    return Instruction(OP_EXIT)


@dataclass(frozen=True)
class Jmp:
    """A jump to a label, before linking. op None = `ja`; src None = compare with `imm`."""

    label: str
    op: str | None = None
    dst: int = 0
    src: int | None = None
    imm: int = 0

    def resolve(self, offset: int) -> Instruction:
        if self.op is None:
            return Instruction(OP_JA, 0, 0, offset, 0)
        if self.src is None:
            return Instruction(InsnClass.JMP | JMP[self.op] | Source.K, self.dst, 0, offset, self.imm)
        return Instruction(InsnClass.JMP | JMP[self.op] | Source.X, self.dst, self.src, offset, 0)


__all__ = ["fits_imm", "alu_reg", "alu_imm", "neg", "mov_reg", "movsx", "mov_imm", "ld_map", "ldx", "stx", "st",
           "atomic_add", "call", "exit_", "Jmp"]
