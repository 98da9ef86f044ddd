"""The verifier log in the kernel's format (kernel/bpf/log.c, kernel/bpf/disasm.c).

`VerifierLog` is a text buffer with the kernel's rewind semantics (level 1 keeps only the path that failed),
`reg_state_str` prints one register as print_reg_state does, `insn_str` prints one instruction as
print_bpf_insn does (`(b7) r0 = 42`).
"""
from __future__ import annotations

import io

from pyebpf.abi.opcodes import OP_LD_IMM64, PseudoSrc
from pyebpf.abi.widths import s64 as _s64
from pyebpf.isa.disasm_kernel import format_insn
from pyebpf.verifier.regstate import (
    CONST_PTR_TO_MAP, PTR_TO_MAP_KEY, PTR_TO_MAP_VALUE, PTR_TO_MEM, PTR_TO_STACK, SCALAR_VALUE, Reg, RegType, base_type,
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
    if base_type(t) == RegType.PTR_TO_BTF_ID:
        from pyebpf.verifier.btf_ptr import reg_type_name
        head = reg_type_name(reg)  # print_reg_state: the kernel struct's name follows `ptr_`
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

def insn_str(insn) -> str:
    """print_bpf_insn() as the verifier's verbose_insn() calls it: '(b7) r0 = 42' (without the slot number).

    The text is isa/disasm_kernel's, the one kernel-style printer; verbose_insn passes no cb_imm, so lddw values
    print in hex, and a BPF_PSEUDO_FUNC load prints as `func`."""
    is_func = insn.opcode == OP_LD_IMM64 and insn.src == PseudoSrc.FUNC
    return format_insn(insn, imm_text="func" if is_func else None)


def vlog_alignment(pos: int) -> int:
    x = max(pos + BPF_LOG_MIN_ALIGNMENT // 2, BPF_LOG_ALIGNMENT)
    x = (x + BPF_LOG_MIN_ALIGNMENT - 1) // BPF_LOG_MIN_ALIGNMENT * BPF_LOG_MIN_ALIGNMENT
    return x - pos - 1


__all__ = ["VerifierLog", "reg_state_str", "insn_str", "snum", "unum", "scalar_ranges", "vlog_alignment",
           "LOG_LEVEL1", "LOG_LEVEL2", "LOG_STATS"]
