"""Which instruction-set extension an instruction needs, and the kernel release that brought it.

Kernels users run differ in the instructions they accept: cpu v4 (signed division, sign-extending moves and loads,
unconditional byte swaps, 32-bit-offset `gotol`) arrived in Linux 6.6, `may_goto` and `addr_space_cast` in 6.9,
load-acquire/store-release in 6.15. One table answers "which kernels take this program?"; tests that run programs
on older kernels (the kernel matrix) and the verifier's per-kernel model ask it instead of spelling versions.
"""
from __future__ import annotations

from enum import Enum
from typing import Iterable

from pyebpf.abi.opcodes import AluOp, AtomicOp, EndSource, InsnClass, JmpOp, Mode
from pyebpf.isa.instruction import Instruction


class IsaFeature(Enum):
    """An extension of the instruction set; the value is the first Linux release (major, minor) that takes it."""

    BASE = (3, 18)
    ATOMIC_FETCH = (5, 12)  # fetch-and-op, xchg, cmpxchg (and 32-bit atomics)
    CPU_V4 = (6, 6)  # sdiv/smod, movsx, ldsx, bswap, gotol
    MAY_GOTO = (6, 9)
    ADDR_SPACE_CAST = (6, 9)
    LOAD_ACQUIRE_STORE_RELEASE = (6, 15)

    @property
    def since(self) -> tuple[int, int]:
        return self.value


_OP_MASK, _CLASS_MASK, _MODE_MASK = 0xF0, 0x07, 0xE0


def insn_feature(insn: Instruction) -> IsaFeature:
    """The extension `insn` needs (BASE for everything older than the releases the matrix covers)."""
    cls = insn.opcode & _CLASS_MASK
    op = insn.opcode & _OP_MASK
    if cls in (InsnClass.ALU, InsnClass.ALU64):
        if op in (AluOp.DIV, AluOp.MOD) and insn.off == 1:
            return IsaFeature.CPU_V4
        if op == AluOp.MOV and insn.off in (8, 16, 32):
            return IsaFeature.CPU_V4
        if cls == InsnClass.ALU64 and op == AluOp.MOV and insn.off == 1:
            return IsaFeature.ADDR_SPACE_CAST
        if cls == InsnClass.ALU64 and op == 0xD0 and not insn.opcode & EndSource.TO_BE:
            return IsaFeature.CPU_V4  # BPF_ALU64 | BPF_END | BPF_TO_LE: unconditional bswap
        return IsaFeature.BASE
    if cls == InsnClass.LDX and insn.opcode & _MODE_MASK == Mode.MEMSX:
        return IsaFeature.CPU_V4
    if cls == InsnClass.JMP32 and op == JmpOp.JA:
        return IsaFeature.CPU_V4
    if cls == InsnClass.JMP and op == JmpOp.JCOND:
        return IsaFeature.MAY_GOTO
    if cls == InsnClass.STX and insn.opcode & _MODE_MASK == Mode.ATOMIC:
        if insn.imm in (AtomicOp.LOAD_ACQ, AtomicOp.STORE_REL):
            return IsaFeature.LOAD_ACQUIRE_STORE_RELEASE
        if insn.imm != AtomicOp.ADD:
            return IsaFeature.ATOMIC_FETCH  # only the atomic add is older (BPF_XADD)
    return IsaFeature.BASE


def program_features(insns: Iterable[Instruction]) -> set[IsaFeature]:
    return {insn_feature(i) for i in insns} - {IsaFeature.BASE}


def kernel_takes(insns: Iterable[Instruction], release: tuple[int, int]) -> bool:
    """Whether a kernel of `release` (major, minor) decodes every instruction (not whether it verifies them)."""
    return all(f.since <= release for f in program_features(insns))


__all__ = ["IsaFeature", "insn_feature", "program_features", "kernel_takes"]
