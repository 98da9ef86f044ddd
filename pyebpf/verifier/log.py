"""The verifier log in the kernel's format (kernel/bpf/log.c, kernel/bpf/disasm.c).

`VerifierLog` is a text buffer with the kernel's rewind semantics (level 1 keeps only the path that failed),
`reg_state_str` prints one register as print_reg_state does, `insn_str` prints one instruction as
print_bpf_insn does (`(b7) r0 = 42`).
"""
from __future__ import annotations

import io

from pyebpf.abi.helpers import HelperId, helper_name
from pyebpf.abi.opcodes import (
    CLASS_MASK, MODE_MASK, OP_LD_IMM64, OP_MASK, SIZE_MASK, SOURCE_MASK, AluOp, AtomicOp, InsnClass, JmpOp, Mode,
    PseudoSrc, Size,
)
from pyebpf.verifier.regstate import (
    CONST_PTR_TO_MAP, PTR_TO_MAP_KEY, PTR_TO_MAP_VALUE, PTR_TO_MEM, PTR_TO_STACK, SCALAR_VALUE, Reg, base_type,
    reg_type_str, type_is_pkt_pointer, S32_MAX, S32_MIN, S64_MAX, S64_MIN,
)
from pyebpf.verifier.tnum import U32, U64

LOG_LEVEL1, LOG_LEVEL2, LOG_STATS = 1, 2, 4
BPF_LOG_MIN_ALIGNMENT, BPF_LOG_ALIGNMENT = 8, 40


class VerifierLog:
    """Text buffer with positions, like struct bpf_verifier_log (end_pos, rewinds)."""

    __slots__ = ("level", "buf")

    def __init__(self, level: int) -> None:
        self.level = level
        self.buf = io.StringIO()

    def write(self, text: str) -> None:
        self.buf.write(text)

    @property
    def end_pos(self) -> int:
        return self.buf.tell()

    def reset(self, pos: int) -> None:
        self.buf.seek(pos)
        self.buf.truncate()

    def text(self) -> str:
        return self.buf.getvalue()


# ---- numbers and registers ---------------------------------------------------------------------------------------

def snum(v: int) -> str:
    """verbose_snum: decimal for small magnitudes, hex (as u64) otherwise."""
    if -32768 <= v <= 32767:
        return str(v)
    return f"{v & U64:#x}"


def unum(v: int) -> str:
    """verbose_unum: decimal up to S16_MAX, hex above."""
    return str(v) if v <= 32767 else f"{v:#x}"


def _s64(v: int) -> int:
    v &= U64
    return v - (1 << 64) if v >> 63 else v


def _s32_val(v: int) -> int:
    return v if -32768 <= v <= 32767 else v & U32


def scalar_ranges(reg: Reg) -> list[str]:
    """print_scalar_ranges: merge equal signed/unsigned bounds into 'smin=umin=...'."""
    items = [
        ["smin", reg.smin, reg.smin == S64_MIN], ["smax", reg.smax, reg.smax == S64_MAX],
        ["umin", reg.umin, reg.umin == 0], ["umax", reg.umax, reg.umax == U64],
        # 32-bit signed bounds are sign-extended only when printed in decimal (hex shows the u32 pattern)
        ["smin32", _s32_val(reg.s32_min), reg.s32_min == S32_MIN],
        ["smax32", _s32_val(reg.s32_max), reg.s32_max == S32_MAX],
        ["umin32", reg.u32_min, reg.u32_min == 0], ["umax32", reg.u32_max, reg.u32_max == U32],
    ]
    out = []
    for i, m1 in enumerate(items):
        if m1[2]:
            continue
        neg1 = m1[0][0] == "s" and _s64(m1[1]) < 0
        text = m1[0] + "="
        for m2 in items[i + 2::2]:
            if m2[2] or (m2[1] & U64) != (m1[1] & U64):
                continue
            neg2 = m2[0][0] == "s" and _s64(m2[1]) < 0
            if neg2 != neg1:
                continue
            m2[2] = True
            text += m2[0] + "="
        if m1[0][0] == "s":
            text += snum(_s64(m1[1]))
        else:
            text += unum(m1[1])
        out.append(text)
    return out


def reg_state_str(reg: Reg, frameno: int) -> str:
    t = reg.type
    if t == SCALAR_VALUE and not reg.var_off.mask:
        return ("P" if reg.precise else "") + snum(_s64(reg.var_off.value))
    head = ("P" if t == SCALAR_VALUE and reg.precise else "") + reg_type_str(t)
    if t == PTR_TO_STACK:
        if reg.frameno != frameno:
            head += f"[{reg.frameno}]"
        if not reg.var_off.mask:
            return head + snum(_s64(reg.var_off.value + reg.off))
    parts = []
    if reg.id:
        parts.append(f"id={reg.id}")
    if reg.ref_obj_id:
        parts.append(f"ref_obj_id={reg.ref_obj_id}")
    if base_type(t) in (CONST_PTR_TO_MAP, PTR_TO_MAP_VALUE, PTR_TO_MAP_KEY) and reg.map is not None:
        if reg.map.name:
            parts.append(f"map={reg.map.name[:15]}")
        parts.append(f"ks={reg.map.key_size},vs={reg.map.value_size}")
    if t != SCALAR_VALUE and reg.off:
        parts.append(f"off={reg.off}")
    if type_is_pkt_pointer(t):
        parts.append(f"r={unum(reg.range & U64)}")
    if base_type(t) == PTR_TO_MEM:
        parts.append(f"sz={reg.mem_size}")
    if not reg.var_off.mask:
        if reg.var_off.value:
            parts.append(f"imm={reg.var_off.value:x}")
    else:
        parts.extend(scalar_ranges(reg))
        if reg.var_off.mask != U64:
            parts.append(f"var_off=({reg.var_off.value:#x}; {reg.var_off.mask:#x})")
    return head + "(" + ",".join(parts) + ")"


# ---- instructions ------------------------------------------------------------------------------------------------

_ALU_STR = {AluOp.ADD: "+=", AluOp.SUB: "-=", AluOp.MUL: "*=", AluOp.DIV: "/=", AluOp.OR: "|=", AluOp.AND: "&=",
            AluOp.LSH: "<<=", AluOp.RSH: ">>=", AluOp.NEG: "neg", AluOp.MOD: "%=", AluOp.XOR: "^=", AluOp.MOV: "=",
            AluOp.ARSH: "s>>=", AluOp.END: "endian"}
_ALU_SIGN_STR = {AluOp.DIV: "s/=", AluOp.MOD: "s%="}
_JMP_STR = {JmpOp.JEQ: "==", JmpOp.JGT: ">", JmpOp.JGE: ">=", JmpOp.JSET: "&", JmpOp.JNE: "!=", JmpOp.JSGT: "s>",
            JmpOp.JSGE: "s>=", JmpOp.JLT: "<", JmpOp.JLE: "<=", JmpOp.JSLT: "s<", JmpOp.JSLE: "s<="}
_SIZE_STR = {Size.B: "u8", Size.H: "u16", Size.W: "u32", Size.DW: "u64"}
_SX_SIZE_STR = {Size.B: "s8", Size.H: "s16", Size.W: "s32", Size.DW: "s64"}
_ATOMIC_OP_STR = {AtomicOp.ADD: "add", AtomicOp.AND: "and", AtomicOp.OR: "or", AtomicOp.XOR: "xor"}
_ATOMIC_ASSIGN = {AtomicOp.ADD: "+=", AtomicOp.AND: "&=", AtomicOp.OR: "|=", AtomicOp.XOR: "^="}


def _func_name(imm: int) -> str:
    try:
        return helper_name(HelperId(imm))
    except ValueError:
        return "unknown"


def insn_str(insn) -> str:
    """print_bpf_insn(): '(b7) r0 = 42' (without the leading slot number)."""
    code = insn.opcode
    cls = code & CLASS_MASK
    head = f"({code:02x}) "
    if cls in (InsnClass.ALU, InsnClass.ALU64):
        r = "w" if cls == InsnClass.ALU else "r"
        op = code & OP_MASK
        if op == AluOp.END:
            if cls == InsnClass.ALU64:
                return head + f"r{insn.dst} = bswap{insn.imm} r{insn.dst}"
            kind = "be" if code & SOURCE_MASK else "le"
            return head + f"r{insn.dst} = {kind}{insn.imm} r{insn.dst}"
        if op == AluOp.NEG:
            return head + f"{r}{insn.dst} = -{r}{insn.dst}"
        if code & SOURCE_MASK:
            if op == AluOp.MOV and cls == InsnClass.ALU64 and insn.off == 1:
                return head + f"r{insn.dst} = addr_space_cast(r{insn.src}, {insn.imm >> 16}, {insn.imm & 0xFFFF})"
            ops = _ALU_SIGN_STR[op] if insn.off == 1 and op in _ALU_SIGN_STR else _ALU_STR[op]
            sx = f"(s{insn.off})" if op == AluOp.MOV and insn.off in (8, 16, 32) else ""
            return head + f"{r}{insn.dst} {ops} {sx}{r}{insn.src}"
        ops = _ALU_SIGN_STR[op] if insn.off == 1 and op in _ALU_SIGN_STR else _ALU_STR[op]
        return head + f"{r}{insn.dst} {ops} {insn.imm}"
    size = Size(code & SIZE_MASK)
    mode = code & MODE_MASK
    if cls == InsnClass.STX:
        if mode == Mode.MEM:
            return head + f"*({_SIZE_STR[size]} *)(r{insn.dst} {insn.off:+d}) = r{insn.src}"
        if mode == Mode.ATOMIC:
            w = "64" if size == Size.DW else ""
            ptr = f"({_SIZE_STR[size]} *)(r{insn.dst} {insn.off:+d})"
            imm = insn.imm
            if imm in _ATOMIC_ASSIGN:
                return head + f"lock *{ptr} {_ATOMIC_ASSIGN[imm]} r{insn.src}"
            if imm & 1 and (imm & ~1) in _ATOMIC_OP_STR:
                return head + f"r{insn.src} = atomic{w}_fetch_{_ATOMIC_OP_STR[imm & ~1]}({ptr}, r{insn.src})"
            if imm == AtomicOp.XCHG:
                return head + f"r{insn.src} = atomic{w}_xchg({ptr}, r{insn.src})"
            if imm == AtomicOp.CMPXCHG:
                return head + f"r0 = atomic{w}_cmpxchg({ptr}, r0, r{insn.src})"
            if imm == AtomicOp.LOAD_ACQ:
                return head + f"r{insn.dst} = load_acquire(({_SIZE_STR[size]} *)(r{insn.src} {insn.off:+d}))"
            if imm == AtomicOp.STORE_REL:
                return head + f"store_release({ptr}, r{insn.src})"
        return head + "BUG"
    if cls == InsnClass.ST:
        return head + f"*({_SIZE_STR[size]} *)(r{insn.dst} {insn.off:+d}) = {insn.imm}"
    if cls == InsnClass.LDX:
        if mode == Mode.MEMSX:
            return head + f"r{insn.dst} = *({_SX_SIZE_STR[size]} *)(r{insn.src} {insn.off:+d})"
        return head + f"r{insn.dst} = *({_SIZE_STR[size]} *)(r{insn.src} {insn.off:+d})"
    if cls == InsnClass.LD:
        if mode == Mode.ABS:
            return head + f"r0 = *({_SIZE_STR[size]} *)skb[{insn.imm}]"
        if mode == Mode.IND:
            return head + f"r0 = *({_SIZE_STR[size]} *)skb[r{insn.src} + {insn.imm}]"
        if code == OP_LD_IMM64:
            if insn.src == PseudoSrc.FUNC:
                return head + f"r{insn.dst} = func"
            return head + f"r{insn.dst} = {insn.imm & U64:#x}"
        return head + "BUG"
    # jumps
    op = code & OP_MASK
    if op == JmpOp.CALL:
        if insn.src == 1:
            return head + f"call pc{insn.imm:+d}"
        if insn.src == 2:
            return head + f"call kernel-function#{insn.imm}"
        return head + f"call {_func_name(insn.imm)}#{insn.imm}"
    if op == JmpOp.EXIT:
        return head + "exit"
    if op == JmpOp.JA:
        if cls == InsnClass.JMP32:
            return head + f"gotol pc{insn.imm:+d}"
        return head + f"goto pc{insn.off:+d}"
    if op == JmpOp.JCOND:
        return head + f"may_goto pc{insn.off:+d}"
    r = "w" if cls == InsnClass.JMP32 else "r"
    if code & SOURCE_MASK:
        return head + f"if {r}{insn.dst} {_JMP_STR[op]} {r}{insn.src} goto pc{insn.off:+d}"
    return head + f"if {r}{insn.dst} {_JMP_STR[op]} {insn.imm & U32:#x} goto pc{insn.off:+d}"


def vlog_alignment(pos: int) -> int:
    x = max(pos + BPF_LOG_MIN_ALIGNMENT // 2, BPF_LOG_ALIGNMENT)
    x = (x + BPF_LOG_MIN_ALIGNMENT - 1) // BPF_LOG_MIN_ALIGNMENT * BPF_LOG_MIN_ALIGNMENT
    return x - pos - 1


__all__ = ["VerifierLog", "reg_state_str", "insn_str", "snum", "unum", "scalar_ranges", "vlog_alignment",
           "LOG_LEVEL1", "LOG_LEVEL2", "LOG_STATS"]
