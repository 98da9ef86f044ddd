"""The kernel's own instruction text: what print_bpf_insn() (kernel/bpf/disasm.c) writes into the verifier log.

Each line is `(op) text`, e.g. `(b7) r0 = 42`, `(85) call bpf_map_lookup_elem#1`, `(63) *(u32 *)(r10 -8) = r1`.
The tables below follow disasm.c's string tables; the branches follow its class-by-class structure.
"""
from __future__ import annotations

from pyebpf.abi.helpers import helper_name
from pyebpf.abi.opcodes import (
    BPF_ADDR_PERCPU, BPF_ADDR_SPACE_CAST, CLASS_MASK, MODE_MASK, OP_CALLX, OP_EXIT, OP_JA, OP_JA32, OP_LD_IMM64,
    OP_MASK, OP_MAY_GOTO, SIGNED_DIVMOD_OFF, SIZE_MASK, SOURCE_MASK, AluOp, AtomicOp, CallSrc, EndSource, InsnClass,
    JmpOp, Mode, Size, Source,
)
from pyebpf.abi.widths import u32 as _u32
from pyebpf.isa.instruction import Instruction

# bpf_alu_string[], bpf_alu_sign_string[], bpf_movsx_string[], bpf_ldst_string[], bpf_ldsx_string[],
# bpf_jmp_string[] and bpf_atomic_alu_string[] of disasm.c
BPF_ALU_STRING: dict[int, str] = {
    AluOp.ADD: "+=", AluOp.SUB: "-=", AluOp.MUL: "*=", AluOp.DIV: "/=", AluOp.OR: "|=", AluOp.AND: "&=",
    AluOp.LSH: "<<=", AluOp.RSH: ">>=", AluOp.NEG: "neg", AluOp.MOD: "%=", AluOp.XOR: "^=", AluOp.MOV: "=",
    AluOp.ARSH: "s>>=", AluOp.END: "endian",
}
BPF_ALU_SIGN_STRING: dict[int, str] = {AluOp.DIV: "s/=", AluOp.MOD: "s%="}
BPF_MOVSX_STRING: dict[int, str] = {8: "(s8)", 16: "(s16)", 32: "(s32)"}
BPF_LDST_STRING: dict[int, str] = {Size.W: "u32", Size.H: "u16", Size.B: "u8", Size.DW: "u64"}
BPF_LDSX_STRING: dict[int, str] = {Size.W: "s32", Size.H: "s16", Size.B: "s8"}
BPF_JMP_STRING: dict[int, str] = {
    JmpOp.JA: "jmp", JmpOp.JEQ: "==", JmpOp.JGT: ">", JmpOp.JLT: "<", JmpOp.JGE: ">=", JmpOp.JLE: "<=",
    JmpOp.JSET: "&", JmpOp.JNE: "!=", JmpOp.JSGT: "s>", JmpOp.JSLT: "s<", JmpOp.JSGE: "s>=", JmpOp.JSLE: "s<=",
    JmpOp.CALL: "call", JmpOp.EXIT: "exit",
}
BPF_ATOMIC_ALU_STRING: dict[int, str] = {AluOp.ADD: "add", AluOp.AND: "and", AluOp.OR: "or", AluOp.XOR: "xor"}
BPF_CLASS_STRING: dict[int, str] = {
    InsnClass.LD: "ld", InsnClass.LDX: "ldx", InsnClass.ST: "st", InsnClass.STX: "stx", InsnClass.ALU: "alu",
    InsnClass.JMP: "jmp", InsnClass.JMP32: "jmp32", InsnClass.ALU64: "alu64",
}
#: BPF_NOSPEC: the verifier's internal speculation barrier, BPF_ST with this mode (seen in xlated dumps).
BPF_NOSPEC = 0xC0
#: What the kernel's printf shows for a NULL string: a hole in one of the string tables above.
NULL = "(null)"


def _alu(insn: Instruction) -> str:
    cls, op = insn.opcode & CLASS_MASK, insn.opcode & OP_MASK
    c = "w" if cls == InsnClass.ALU else "r"
    if op == AluOp.END:
        if cls == InsnClass.ALU64:
            return f"r{insn.dst} = bswap{insn.imm} r{insn.dst}"
        kind = "be" if insn.opcode & SOURCE_MASK == EndSource.TO_BE else "le"
        return f"r{insn.dst} = {kind}{insn.imm} r{insn.dst}"
    if op == AluOp.NEG:
        return f"{c}{insn.dst} = -{c}{insn.dst}"
    x = insn.opcode & SOURCE_MASK == Source.X
    if x and insn.opcode == InsnClass.ALU64 | AluOp.MOV | Source.X and insn.off == BPF_ADDR_SPACE_CAST:
        return f"r{insn.dst} = addr_space_cast(r{insn.src}, {_u32(insn.imm) >> 16}, {insn.imm & 0xFFFF})"
    if x and insn.opcode == InsnClass.ALU64 | AluOp.MOV | Source.X and insn.off == BPF_ADDR_PERCPU:
        return f"r{insn.dst} = &(void __percpu *)(r{insn.src})"
    signed = op in BPF_ALU_SIGN_STRING and insn.off == SIGNED_DIVMOD_OFF
    operator = BPF_ALU_SIGN_STRING[op] if signed else BPF_ALU_STRING.get(op, NULL)
    if x:
        movsx = BPF_MOVSX_STRING.get(insn.off, "") if op == AluOp.MOV else ""
        return f"{c}{insn.dst} {operator} {movsx}{c}{insn.src}"
    return f"{c}{insn.dst} {operator} {insn.imm}"


def _stx(insn: Instruction) -> str:
    size = insn.opcode & SIZE_MASK
    ty = BPF_LDST_STRING[size]
    mode = insn.opcode & MODE_MASK
    where = f"r{insn.dst} {insn.off:+d}"
    if mode == Mode.MEM:
        return f"*({ty} *)({where}) = r{insn.src}"
    if mode != Mode.ATOMIC:
        return f"BUG_{insn.opcode:02x}"
    imm = insn.imm
    bits = "64" if size == Size.DW else ""
    if imm in (AtomicOp.ADD, AtomicOp.AND, AtomicOp.OR, AtomicOp.XOR):
        return f"lock *({ty} *)({where}) {BPF_ALU_STRING[imm & OP_MASK]} r{insn.src}"
    if imm in (AtomicOp.FETCH_ADD, AtomicOp.FETCH_AND, AtomicOp.FETCH_OR, AtomicOp.FETCH_XOR):
        name = BPF_ATOMIC_ALU_STRING[imm & OP_MASK]
        return f"r{insn.src} = atomic{bits}_fetch_{name}(({ty} *)({where}), r{insn.src})"
    if imm == AtomicOp.CMPXCHG:
        return f"r0 = atomic{bits}_cmpxchg(({ty} *)({where}), r0, r{insn.src})"
    if imm == AtomicOp.XCHG:
        return f"r{insn.src} = atomic{bits}_xchg(({ty} *)({where}), r{insn.src})"
    if imm == AtomicOp.LOAD_ACQ:
        return f"r{insn.dst} = load_acquire(({ty} *)(r{insn.src} {insn.off:+d}))"
    if imm == AtomicOp.STORE_REL:
        return f"store_release(({ty} *)({where}), r{insn.src})"
    return f"BUG_{insn.opcode:02x}"


def _ld(insn: Instruction, imm_text: str | None) -> str:
    mode, size = insn.opcode & MODE_MASK, insn.opcode & SIZE_MASK
    if mode == Mode.ABS:
        return f"r0 = *({BPF_LDST_STRING[size]} *)skb[{insn.imm}]"
    if mode == Mode.IND:
        return f"r0 = *({BPF_LDST_STRING[size]} *)skb[r{insn.src} + {insn.imm}]"
    if insn.opcode == OP_LD_IMM64:
        return f"r{insn.dst} = {imm_text if imm_text is not None else hex(insn.imm & 0xFFFFFFFFFFFFFFFF)}"
    return f"BUG_ld_{insn.opcode:02x}"


def _jmp(insn: Instruction, callee: str | None) -> str:
    opcode = insn.opcode
    cls = opcode & CLASS_MASK
    if opcode & ~SOURCE_MASK & 0xFF == InsnClass.JMP | JmpOp.CALL:
        if opcode == OP_CALLX:
            return f"call r{insn.dst or insn.imm}"
        if insn.src == CallSrc.PSEUDO_CALL:
            return f"call pc{callee or f'{insn.imm:+d}'}"
        name = callee
        if name is None and insn.src == CallSrc.HELPER:
            name = helper_name(insn.imm)
        elif name is None and insn.src == CallSrc.KFUNC:
            name = "kernel-function"  # the verifier names it from BTF; without BTF, __func_get_name's fallback
        return f"call {name or 'unknown'}#{insn.imm}"
    if opcode == OP_JA:
        return f"goto pc{insn.off:+d}"
    if opcode == OP_MAY_GOTO:
        return f"may_goto pc{insn.off:+d}"
    if opcode == OP_JA32:
        return f"gotol pc{insn.imm:+d}"
    if opcode == OP_EXIT:
        return "exit"
    c = "w" if cls == InsnClass.JMP32 else "r"
    operator = BPF_JMP_STRING.get(opcode & OP_MASK, NULL)
    if opcode & SOURCE_MASK == Source.X:
        return f"if {c}{insn.dst} {operator} {c}{insn.src} goto pc{insn.off:+d}"
    return f"if {c}{insn.dst} {operator} {_u32(insn.imm):#x} goto pc{insn.off:+d}"


def format_insn(insn: Instruction, imm_text: str | None = None, callee: str | None = None,
                with_opcode: bool = True) -> str:
    """print_bpf_insn() text of one instruction, `(op) ` prefix included unless with_opcode is False.

    `imm_text` replaces the lddw value (the verifier's cb_imm, e.g. `map[id:3]`) and `callee` the call name.
    """
    cls = insn.opcode & CLASS_MASK
    if cls in (InsnClass.ALU, InsnClass.ALU64):
        text = _alu(insn)
    elif cls == InsnClass.STX:
        text = _stx(insn)
    elif cls == InsnClass.ST:
        if insn.opcode & MODE_MASK == BPF_NOSPEC:
            return f"({insn.opcode:02x}) nospec" if with_opcode else "nospec"
        if insn.opcode & MODE_MASK != Mode.MEM:
            return f"BUG_st_{insn.opcode:02x}"
        text = f"*({BPF_LDST_STRING[insn.opcode & SIZE_MASK]} *)(r{insn.dst} {insn.off:+d}) = {insn.imm}"
    elif cls == InsnClass.LDX:
        mode = insn.opcode & MODE_MASK
        if mode not in (Mode.MEM, Mode.MEMSX):
            return f"BUG_ldx_{insn.opcode:02x}"
        table = BPF_LDST_STRING if mode == Mode.MEM else BPF_LDSX_STRING
        text = f"r{insn.dst} = *({table.get(insn.opcode & SIZE_MASK, NULL)} *)(r{insn.src} {insn.off:+d})"
    elif cls == InsnClass.LD:
        text = _ld(insn, imm_text)
    else:
        text = _jmp(insn, callee)
    if text.startswith("BUG_"):
        return text
    return f"({insn.opcode:02x}) {text}" if with_opcode else text


__all__ = ["format_insn", "BPF_ALU_STRING", "BPF_JMP_STRING", "BPF_LDST_STRING"]
