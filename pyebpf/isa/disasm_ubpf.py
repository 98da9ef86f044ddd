"""The uBPF / bpf_conformance assembly dialect: `mov %r0, 1`, `ldxw %r0, [%r1+4]`, `jeq %r1, 0, +2`.

Mnemonics follow the conformance suite's `.data` files (the text its assembler reads): `add32`, `movsx832`,
`ldxsb`, `lock fetch add32 [%r10-8], %r1`, `bswap16 %r0`, `ja32 +N` (gotol), `call local +N`, `call %r2` (callx).
Immediates print in decimal when small or negative and in hex otherwise, as that suite's disassembler does.
Linux-only forms the suite has no spelling for get names in the same style: `may_goto +N`, `ldabsw 4`,
`ldindw %r2, 4`, `lock load_acquire %r0, [%r1]`, `lock store_release [%r1], %r2`, `call runtime N` (kfunc),
`addr_space_cast %r1, %r2, 0, 1`, and `lddw %r1, 5, map_fd` for lddw with a pseudo source.
"""
from __future__ import annotations

from pyebpf.abi.opcodes import (
    ATOMIC_FETCH, BPF_ADDR_SPACE_CAST, CLASS_MASK, MODE_MASK, OP_CALLX, OP_EXIT, OP_JA, OP_JA32, OP_LD_IMM64,
    OP_MASK, OP_MAY_GOTO, SIGNED_DIVMOD_OFF, SIZE_MASK, SOURCE_MASK, AluOp, AtomicOp, CallSrc, EndSource, InsnClass,
    JmpOp, Mode, PseudoSrc, Size, Source,
)
from pyebpf.isa.instruction import Instruction

ALU_MNEMONICS: dict[int, str] = {
    AluOp.ADD: "add", AluOp.SUB: "sub", AluOp.MUL: "mul", AluOp.DIV: "div", AluOp.OR: "or", AluOp.AND: "and",
    AluOp.LSH: "lsh", AluOp.RSH: "rsh", AluOp.NEG: "neg", AluOp.MOD: "mod", AluOp.XOR: "xor", AluOp.MOV: "mov",
    AluOp.ARSH: "arsh",
}
SIGNED_ALU_MNEMONICS: dict[int, str] = {AluOp.DIV: "sdiv", AluOp.MOD: "smod"}
JMP_MNEMONICS: dict[int, str] = {
    JmpOp.JEQ: "jeq", JmpOp.JGT: "jgt", JmpOp.JGE: "jge", JmpOp.JSET: "jset", JmpOp.JNE: "jne",
    JmpOp.JSGT: "jsgt", JmpOp.JSGE: "jsge", JmpOp.JLT: "jlt", JmpOp.JLE: "jle", JmpOp.JSLT: "jslt",
    JmpOp.JSLE: "jsle",
}
SIZE_SUFFIXES: dict[int, str] = {Size.B: "b", Size.H: "h", Size.W: "w", Size.DW: "dw"}
ATOMIC_MNEMONICS: dict[int, str] = {AluOp.ADD: "add", AluOp.OR: "or", AluOp.AND: "and", AluOp.XOR: "xor"}
#: Spelling of lddw's pseudo sources (src_reg) after the value: `lddw %r1, 5, map_fd`.
PSEUDO_NAMES: dict[int, str] = {
    PseudoSrc.MAP_FD: "map_fd", PseudoSrc.MAP_VALUE: "map_value", PseudoSrc.BTF_ID: "btf_id",
    PseudoSrc.FUNC: "func", PseudoSrc.MAP_IDX: "map_idx", PseudoSrc.MAP_IDX_VALUE: "map_idx_value",
}
INT32_MIN = -(1 << 31)


def imm(value: int) -> str:
    """Small or negative immediates in decimal, the rest as 32-bit hex (INT32_MIN too), like the suite prints."""
    if (value < 0 and value != INT32_MIN) or -10 <= value <= 10:
        return str(value)
    return f"{value & 0xFFFFFFFF:#x}"


def reg(n: int) -> str:
    return f"%r{n}"


def mem(base: int, off: int) -> str:
    if off == 0:
        return f"[%r{base}]"
    return f"[%r{base}{off:+d}]"


def jump(offset: int) -> str:
    return f"{offset:+d}"


def _alu(insn: Instruction) -> str:
    cls, op = insn.opcode & CLASS_MASK, insn.opcode & OP_MASK
    suffix = "" if cls == InsnClass.ALU64 else "32"
    if op == AluOp.END:
        if cls == InsnClass.ALU64:
            return f"bswap{insn.imm} {reg(insn.dst)}"
        kind = "be" if insn.opcode & SOURCE_MASK == EndSource.TO_BE else "le"
        return f"{kind}{insn.imm} {reg(insn.dst)}"
    if op == AluOp.NEG:
        return f"neg{suffix} {reg(insn.dst)}"
    x = insn.opcode & SOURCE_MASK == Source.X
    if op == AluOp.MOV and x and insn.off:
        if cls == InsnClass.ALU64 and insn.off == BPF_ADDR_SPACE_CAST:
            return (f"addr_space_cast {reg(insn.dst)}, {reg(insn.src)}, {(insn.imm & 0xFFFFFFFF) >> 16}, "
                    f"{insn.imm & 0xFFFF}")
        return f"movsx{insn.off}{'64' if cls == InsnClass.ALU64 else '32'} {reg(insn.dst)}, {reg(insn.src)}"
    if op in SIGNED_ALU_MNEMONICS and insn.off == SIGNED_DIVMOD_OFF:
        name = SIGNED_ALU_MNEMONICS[op]
    else:
        name = ALU_MNEMONICS[op]
    return f"{name}{suffix} {reg(insn.dst)}, {reg(insn.src) if x else imm(insn.imm)}"


def _stx(insn: Instruction) -> str:
    size = insn.opcode & SIZE_MASK
    if insn.opcode & MODE_MASK == Mode.MEM:
        return f"stx{SIZE_SUFFIXES[size]} {mem(insn.dst, insn.off)}, {reg(insn.src)}"
    width = "" if size == Size.DW else "32"
    if insn.imm == AtomicOp.LOAD_ACQ:
        return f"lock load_acquire{SIZE_SUFFIXES[size]} {reg(insn.dst)}, {mem(insn.src, insn.off)}"
    if insn.imm == AtomicOp.STORE_REL:
        return f"lock store_release{SIZE_SUFFIXES[size]} {mem(insn.dst, insn.off)}, {reg(insn.src)}"
    if insn.imm == AtomicOp.XCHG:
        op = f"xchg{width}"
    elif insn.imm == AtomicOp.CMPXCHG:
        op = f"cmpxchg{width}"
    else:
        fetch = "fetch " if insn.imm & ATOMIC_FETCH else ""
        op = f"{fetch}{ATOMIC_MNEMONICS.get(insn.imm & ~ATOMIC_FETCH, 'unknown')}{width}"
    return f"lock {op} {mem(insn.dst, insn.off)}, {reg(insn.src)}"


def _jmp(insn: Instruction, target: str | None, callee: str | None) -> str:
    opcode = insn.opcode
    if opcode == OP_EXIT:
        return "exit"
    if opcode == OP_CALLX:
        return f"call {reg(insn.dst or insn.imm)}"
    if insn.is_call:
        if insn.src == CallSrc.PSEUDO_CALL:
            return f"call local {callee or target or jump(insn.imm)}"
        if insn.src == CallSrc.KFUNC:
            return f"call runtime {callee or imm(insn.imm)}"
        return f"call {callee or imm(insn.imm)}"
    if opcode == OP_JA:
        return f"ja {target or jump(insn.off)}"
    if opcode == OP_JA32:
        return f"ja32 {target or jump(insn.imm)}"
    if opcode == OP_MAY_GOTO:
        return f"may_goto {target or jump(insn.off)}"
    suffix = "32" if opcode & CLASS_MASK == InsnClass.JMP32 else ""
    operand = reg(insn.src) if opcode & SOURCE_MASK == Source.X else imm(insn.imm)
    return f"{JMP_MNEMONICS[opcode & OP_MASK]}{suffix} {reg(insn.dst)}, {operand}, {target or jump(insn.off)}"


def format_lddw(insn: Instruction, value: str | None = None) -> str:
    text = value if value is not None else f"{insn.imm & 0xFFFFFFFFFFFFFFFF:#x}"
    if insn.src != PseudoSrc.IMM and value is None:
        return f"lddw {reg(insn.dst)}, {text}, {PSEUDO_NAMES.get(insn.src, str(insn.src))}"
    return f"lddw {reg(insn.dst)}, {text}"


def format_insn(insn: Instruction, target: str | None = None, callee: str | None = None,
                value: str | None = None) -> str:
    """Conformance-dialect text of one instruction; `target`/`callee`/`value` replace numbers with symbols."""
    cls = insn.opcode & CLASS_MASK
    size = insn.opcode & SIZE_MASK
    if cls in (InsnClass.ALU, InsnClass.ALU64):
        return _alu(insn)
    if cls in (InsnClass.JMP, InsnClass.JMP32):
        return _jmp(insn, target, callee)
    if cls == InsnClass.LDX:
        sign = "s" if insn.opcode & MODE_MASK == Mode.MEMSX else ""
        return f"ldx{sign}{SIZE_SUFFIXES[size]} {reg(insn.dst)}, {mem(insn.src, insn.off)}"
    if cls == InsnClass.ST:
        return f"st{SIZE_SUFFIXES[size]} {mem(insn.dst, insn.off)}, {imm(insn.imm)}"
    if cls == InsnClass.STX:
        return _stx(insn)
    if insn.opcode == OP_LD_IMM64:
        return format_lddw(insn, value)
    if insn.opcode & MODE_MASK == Mode.ABS:
        return f"ldabs{SIZE_SUFFIXES[size]} {imm(insn.imm)}"
    return f"ldind{SIZE_SUFFIXES[size]} {reg(insn.src)}, {imm(insn.imm)}"


__all__ = ["format_insn", "format_lddw", "imm", "mem", "reg", "jump"]
