"""The instruction constructors the lowering uses, over `pyebpf.isa.ops` (where every opcode is composed).

Names here are the lowering's vocabulary (IR operator names, sizes in bytes); jumps are emitted with a symbolic
target (`Jmp.label`) that `lower.link` turns into slot offsets.
"""
from __future__ import annotations

from dataclasses import dataclass

from pyebpf.abi.opcodes import AluOp, AtomicOp, BYTES_SIZE, JmpOp
from pyebpf.isa import ops
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


def alu_reg(op: str, dst: int, src: int, wide: bool = True, signed: bool = False) -> Instruction:
    return (ops.alu if wide else ops.alu32)(ALU[op], dst, src, signed=signed and op in ("div", "mod"))


def alu_imm(op: str, dst: int, imm: int, wide: bool = True, signed: bool = False) -> Instruction:
    return (ops.alu if wide else ops.alu32)(ALU[op], dst, None, imm, signed=signed and op in ("div", "mod"))


def neg(dst: int, wide: bool = True) -> Instruction:
    return ops.neg(dst) if wide else ops.neg32(dst)


def mov_reg(dst: int, src: int, wide: bool = True) -> Instruction:
    return ops.mov(dst, src) if wide else ops.mov32(dst, src)


def movsx(dst: int, src: int, bits: int) -> Instruction:
    """dst = (s64)(s<bits>)src (cpu v4)."""
    return ops.movsx(dst, src, bits)


def to_be(dst: int, bits: int) -> Instruction:
    """dst = htobe<bits>(dst): a byte swap on little-endian hosts (BPF_END | BPF_TO_BE), upper bits zeroed."""
    return ops.to_be(dst, bits)


def mov_imm(dst: int, imm: int) -> Instruction:
    """dst = imm: a 32-bit mov (sign-extended) when it fits, else lddw."""
    if fits_imm(imm):
        return ops.mov(dst, None, imm)
    if imm >= 1 << 63:
        imm -= 1 << 64
    return ops.lddw(dst, imm)


def ld_map(dst: int, name: str, value_off: int | None = None) -> Instruction:
    if value_off is None:
        return ops.ld_map_fd(dst, ref=name)
    return ops.ld_map_value(dst, 0, value_off, ref=name)


def ldx(dst: int, base: int, off: int, size: int, signed: bool = False) -> Instruction:
    return ops.ldx(BYTES_SIZE[size], dst, base, off, signed=signed and size < 8)


def stx(base: int, off: int, src: int, size: int) -> Instruction:
    return ops.stx(BYTES_SIZE[size], base, src, off)


def st(base: int, off: int, imm: int, size: int) -> Instruction:
    return ops.st(BYTES_SIZE[size], base, off, imm)


def atomic_add(base: int, off: int, src: int, size: int) -> Instruction:
    return ops.atomic(AtomicOp.ADD, BYTES_SIZE[size], base, src, off)


def call(helper: int) -> Instruction:
    return ops.call(int(helper))


def exit_() -> Instruction:
    return ops.exit()


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
            return ops.ja(offset)
        if self.op == "may_goto":
            return ops.may_goto(offset)
        return ops.jmp(JMP[self.op], self.dst, self.src, self.imm, offset)


@dataclass(frozen=True)
class CallRel:
    """A bpf-to-bpf call of the function whose entry is `label`, before linking (`call pc+offset`)."""

    label: str

    def resolve(self, offset: int) -> Instruction:
        return ops.call_local(offset)


@dataclass(frozen=True)
class FuncAddrRel:
    """`dst = &function` (ld_imm64, BPF_PSEUDO_FUNC) of the function whose entry is `label`, before linking."""

    dst: int
    label: str
    slots = 2

    def resolve(self, offset: int) -> Instruction:
        return ops.ld_func(self.dst, offset)


__all__ = [
    "CallRel", "FuncAddrRel", "fits_imm", "s32", "alu_reg", "alu_imm", "neg", "mov_reg", "movsx", "to_be",
    "mov_imm", "ld_map", "ldx", "stx", "st", "atomic_add", "call", "exit_", "Jmp",
]
