"""LLVM's BPF assembly text (`llvm-objdump -d`), one instruction at a time.

Forms that Debian's LLVM 14 knows print exactly as its llvm-objdump prints them (without `--mattr=+alu32` by
default; with `alu32=True` as with it). Forms it does not know (cpu v4: sdiv/smod, movsx, sign-extending loads,
bswap, gotol, store-immediate, may_goto, load-acquire/store-release, addr_space_cast) print as LLVM 17..21 prints
them. `llvm14_knows(insn)` says which is which, so tests compare only the former against the installed tool.

Note the two places where LLVM's own text is lossy: `ld_pseudo` shows only the low 32 bits of the immediate, and
`r0 = *(u32 *)skb[rN]` (BPF_IND) drops the immediate. Callers that need a round trip use `symbolic=True` text or the
ubpf dialect for those forms.
"""
from __future__ import annotations

from typing import Callable

from pyebpf.abi.opcodes import (
    CLASS_MASK, MODE_MASK, OP_CALLX, OP_EXIT, OP_JA, OP_JA32, OP_LD_IMM64, OP_MASK, OP_MAY_GOTO, SIZE_MASK,
    SOURCE_MASK, AluOp, AtomicOp, EndSource, InsnClass, JmpOp, Mode, PseudoSrc, Size, Source,
    BPF_ADDR_SPACE_CAST, SIGNED_DIVMOD_OFF,
)
from pyebpf.isa.instruction import Instruction

ALU_OPERATORS: dict[int, str] = {
    AluOp.ADD: "+=", AluOp.SUB: "-=", AluOp.MUL: "*=", AluOp.DIV: "/=", AluOp.OR: "|=", AluOp.AND: "&=",
    AluOp.LSH: "<<=", AluOp.RSH: ">>=", AluOp.MOD: "%=", AluOp.XOR: "^=", AluOp.MOV: "=", AluOp.ARSH: "s>>=",
}
SIGNED_ALU_OPERATORS: dict[int, str] = {AluOp.DIV: "s/=", AluOp.MOD: "s%="}
JMP_OPERATORS: dict[int, str] = {
    JmpOp.JEQ: "==", JmpOp.JGT: ">", JmpOp.JGE: ">=", JmpOp.JSET: "&", JmpOp.JNE: "!=", JmpOp.JSGT: "s>",
    JmpOp.JSGE: "s>=", JmpOp.JLT: "<", JmpOp.JLE: "<=", JmpOp.JSLT: "s<", JmpOp.JSLE: "s<=",
}
SIZE_TYPES: dict[int, str] = {Size.B: "u8", Size.H: "u16", Size.W: "u32", Size.DW: "u64"}
SIGNED_SIZE_TYPES: dict[int, str] = {Size.B: "s8", Size.H: "s16", Size.W: "s32"}
ATOMIC_ALU: dict[int, str] = {AtomicOp.ADD: "+=", AtomicOp.OR: "|=", AtomicOp.AND: "&=", AtomicOp.XOR: "^="}
ATOMIC_FETCH_NAMES: dict[int, str] = {AtomicOp.FETCH_ADD: "add", AtomicOp.FETCH_OR: "or",
                                      AtomicOp.FETCH_AND: "and", AtomicOp.FETCH_XOR: "xor"}

#: How to name the target of a branch or pseudo call, and the callee of a helper call, in symbolic text.
Namer = Callable[[Instruction], "str | None"]


def _mem(base: int, off: int) -> str:
    return f"r{base} + {off}" if off >= 0 else f"r{base} - {-off}"


def _offset(value: int) -> str:
    return f"{value:+d}"


def format_alu(insn: Instruction) -> str:
    cls, op = insn.opcode & CLASS_MASK, insn.opcode & OP_MASK
    p = "w" if cls == InsnClass.ALU else "r"
    dst = f"{p}{insn.dst}"
    if op == AluOp.NEG:
        return f"{dst} = -{dst}"
    if op == AluOp.END:
        if cls == InsnClass.ALU64:
            return f"r{insn.dst} = bswap{insn.imm} r{insn.dst}"
        kind = "be" if insn.opcode & SOURCE_MASK == EndSource.TO_BE else "le"
        return f"r{insn.dst} = {kind}{insn.imm} r{insn.dst}"
    x = insn.opcode & SOURCE_MASK == Source.X
    if op == AluOp.MOV and x and insn.off:
        if cls == InsnClass.ALU64 and insn.off == BPF_ADDR_SPACE_CAST:
            return f"r{insn.dst} = addr_space_cast(r{insn.src}, {(insn.imm & 0xFFFFFFFF) >> 16}, {insn.imm & 0xFFFF})"
        return f"{dst} = (s{insn.off}){p}{insn.src}"
    if op in SIGNED_ALU_OPERATORS and insn.off == SIGNED_DIVMOD_OFF:
        operator = SIGNED_ALU_OPERATORS[op]
    else:
        operator = ALU_OPERATORS[op]
    operand = f"{p}{insn.src}" if x else str(insn.imm)
    return f"{dst} {operator} {operand}"


def format_jmp(insn: Instruction, target: str | None = None, callee: str | None = None) -> str:
    """Branch and call text; `target` replaces the `+N` offset and `callee` the call number in symbolic text."""
    opcode = insn.opcode
    if opcode == OP_EXIT:
        return "exit"
    if opcode == OP_JA:
        return f"goto {target or _offset(insn.off)}"
    if opcode == OP_JA32:
        return f"gotol {target or _offset(insn.imm)}"
    if opcode == OP_MAY_GOTO:
        return f"may_goto {target or _offset(insn.off)}"
    if opcode == OP_CALLX:
        return f"callx r{insn.dst or insn.imm}"
    if insn.is_call:
        return f"call {callee or insn.imm}"
    p = "w" if opcode & CLASS_MASK == InsnClass.JMP32 else "r"
    operand = f"{p}{insn.src}" if opcode & SOURCE_MASK == Source.X else str(insn.imm)
    return f"if {p}{insn.dst} {JMP_OPERATORS[opcode & OP_MASK]} {operand} goto {target or _offset(insn.off)}"


def format_lddw(insn: Instruction, value: str | None = None) -> str:
    """`r1 = N ll`, or `ld_pseudo` for a pseudo source. A map load still naming its map (`ref`) prints as clang's
    object shows it before relocation, `r1 = 0 ll`; symbolic text passes `value="map[name]"` instead."""
    if value is not None:
        return f"r{insn.dst} = {value} ll"
    if insn.ref is not None:
        return f"r{insn.dst} = 0 ll"
    if insn.src == PseudoSrc.IMM:
        return f"r{insn.dst} = {insn.imm} ll"
    return f"ld_pseudo\tr{insn.dst}, {insn.src}, {insn.imm_lo}"


def format_ld_legacy(insn: Instruction) -> str:
    size = SIZE_TYPES[insn.opcode & SIZE_MASK]
    if insn.opcode & MODE_MASK == Mode.ABS:
        return f"r0 = *({size} *)skb[{insn.imm}]"
    return f"r0 = *({size} *)skb[r{insn.src}]"


def format_ldx(insn: Instruction, alu32: bool = False) -> str:
    size = insn.opcode & SIZE_MASK
    if insn.opcode & MODE_MASK == Mode.MEMSX:
        return f"r{insn.dst} = *({SIGNED_SIZE_TYPES[size]} *)({_mem(insn.src, insn.off)})"
    p = "w" if alu32 and size != Size.DW else "r"
    return f"{p}{insn.dst} = *({SIZE_TYPES[size]} *)({_mem(insn.src, insn.off)})"


def format_st(insn: Instruction) -> str:
    return f"*({SIZE_TYPES[insn.opcode & SIZE_MASK]} *)({_mem(insn.dst, insn.off)}) = {insn.imm}"


def format_stx(insn: Instruction, alu32: bool = False) -> str:
    size = insn.opcode & SIZE_MASK
    where = _mem(insn.dst, insn.off)
    ty = SIZE_TYPES[size]
    if insn.opcode & MODE_MASK == Mode.MEM:
        p = "w" if alu32 and size != Size.DW else "r"
        return f"*({ty} *)({where}) = {p}{insn.src}"
    wide = size == Size.DW
    imm = insn.imm
    if imm == AtomicOp.LOAD_ACQ:
        return f"{'r' if wide else 'w'}{insn.dst} = load_acquire(({ty} *)({_mem(insn.src, insn.off)}))"
    if imm == AtomicOp.STORE_REL:
        return f"store_release(({ty} *)({where}), {'r' if wide else 'w'}{insn.src})"
    # LLVM 14 decodes the 32-bit `lock ... += ` as a 64-bit-register form unless alu32 is on; the rest of the
    # 32-bit atomics exist only in its alu32 table, so they always print with w registers.
    p = "r" if wide else "w"
    if imm == AtomicOp.ADD and not wide and not alu32:
        return f"lock *({ty} *)({where}) += r{insn.src}"
    if imm in ATOMIC_ALU:
        return f"lock *({ty} *)({where}) {ATOMIC_ALU[imm]} {p}{insn.src}"
    if imm in ATOMIC_FETCH_NAMES:
        return f"{p}{insn.src} = atomic_fetch_{ATOMIC_FETCH_NAMES[imm]}(({ty} *)({where}), {p}{insn.src})"
    if imm == AtomicOp.XCHG:
        return f"{p}{insn.src} = xchg{'' if wide else '32'}_{'64' if wide else '32'}({where}, {p}{insn.src})"
    if imm == AtomicOp.CMPXCHG:
        name = "cmpxchg_64" if wide else "cmpxchg32_32"
        return f"{p}0 = {name}({where}, {p}0, {p}{insn.src})"
    return f"<unknown atomic {imm:#x}>"


def format_insn(insn: Instruction, alu32: bool = False) -> str:
    """LLVM text of one instruction (no symbols)."""
    cls = insn.opcode & CLASS_MASK
    if cls in (InsnClass.ALU, InsnClass.ALU64):
        return format_alu(insn)
    if cls in (InsnClass.JMP, InsnClass.JMP32):
        return format_jmp(insn)
    if cls == InsnClass.LDX:
        return format_ldx(insn, alu32)
    if cls == InsnClass.STX:
        return format_stx(insn, alu32)
    if cls == InsnClass.ST:
        return format_st(insn)
    if insn.opcode == OP_LD_IMM64:
        return format_lddw(insn)
    return format_ld_legacy(insn)


def llvm14_knows(insn: Instruction, alu32: bool = False) -> bool:
    """True when Debian's LLVM 14 llvm-objdump decodes this instruction to the same meaning we print.

    LLVM 14 predates cpu v4: it shows sdiv as div and movsx as mov (ignoring `off`), and has no mod (`%=`), jset,
    store-immediate, sign-extending loads, bswap, gotol, may_goto or load-acquire. Its 32-bit atomics other than
    `lock +=` need `--mattr=+alu32`. Its `callx` takes the register from imm.
    """
    cls, op, opcode = insn.opcode & CLASS_MASK, insn.opcode & OP_MASK, insn.opcode
    if cls in (InsnClass.ALU, InsnClass.ALU64):
        if op == AluOp.END:
            return cls == InsnClass.ALU
        return insn.off == 0 and op != AluOp.MOD
    if cls in (InsnClass.JMP, InsnClass.JMP32):
        if opcode in (OP_JA32, OP_MAY_GOTO):
            return False
        if opcode == OP_CALLX:
            return insn.dst == 0
        return op != JmpOp.JSET
    if cls == InsnClass.ST:
        return False
    if cls == InsnClass.LDX:
        return opcode & MODE_MASK == Mode.MEM
    if opcode == OP_LD_IMM64:
        # LLVM 14 mistakes src 2 for its internal frame-index `lea` (FI_ri): it prints garbage or crashes.
        return insn.src != PseudoSrc.MAP_VALUE
    if cls == InsnClass.STX and opcode & MODE_MASK == Mode.ATOMIC:
        if insn.imm in (AtomicOp.LOAD_ACQ, AtomicOp.STORE_REL):
            return False
        return opcode & SIZE_MASK == Size.DW or alu32 or insn.imm == AtomicOp.ADD
    return True


__all__ = ["format_insn", "format_alu", "format_jmp", "format_lddw", "format_ldx", "format_st", "format_stx",
           "format_ld_legacy", "llvm14_knows"]
