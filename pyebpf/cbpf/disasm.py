"""Classic BPF to text: `tcpdump -d` (libpcap's bpf_image), `-dd` (C array), `-ddd` (decimal), and the syntax of
the kernel's tools/bpf `bpf_asm` (labels, `jeq #0x800, l2, l5`), which `assemble` reads back.

The operand forms are one table (`_OPERANDS`, code -> (mnemonic, operand kind)) that both printers and the parser
share, so a form added once is printed and read by every syntax.
"""
from __future__ import annotations

from typing import Callable, Iterable

from pyebpf.abi.cbpf import (
    SKF_AD_ASM_NAMES, SKF_AD_MAX, SKF_AD_OFF, SKF_AD_PCAP_NAMES, CClass, CMode, CSize, CSrc, MiscOp, RetVal, SkfAd,
)
from pyebpf.abi.opcodes import AluOp, JmpOp
from pyebpf.cbpf.insn import ClassicProgram, SockFilter
from pyebpf.errors import DecodeError

# operand kinds
ABS, IND, IMM, LEN, MEM, MSH, KDEC, KHEX, XREG, NONE, RET_A, RET_X, JA = (
    "abs", "ind", "imm", "len", "mem", "msh", "kdec", "khex", "x", "none", "a", "retx", "ja")

_ALU_NAMES = {AluOp.ADD: "add", AluOp.SUB: "sub", AluOp.MUL: "mul", AluOp.DIV: "div", AluOp.MOD: "mod",
              AluOp.AND: "and", AluOp.OR: "or", AluOp.XOR: "xor", AluOp.LSH: "lsh", AluOp.RSH: "rsh"}
#: libpcap prints these ALU immediates in hex, the others in signed decimal
_ALU_HEX = {AluOp.AND, AluOp.OR, AluOp.XOR}
_JMP_NAMES = {JmpOp.JEQ: "jeq", JmpOp.JGT: "jgt", JmpOp.JGE: "jge", JmpOp.JSET: "jset"}
_LD_NAMES = {CSize.W: "ld", CSize.H: "ldh", CSize.B: "ldb"}


def _build_operands() -> dict[int, tuple[str, str]]:
    table: dict[int, tuple[str, str]] = {}
    for size, name in _LD_NAMES.items():
        table[CClass.LD | size | CMode.ABS] = (name, ABS)
        table[CClass.LD | size | CMode.IND] = (name, IND)
    table[CClass.LD | CSize.W | CMode.LEN] = ("ld", LEN)
    table[CClass.LDX | CSize.W | CMode.LEN] = ("ldx", LEN)
    table[CClass.LD | CMode.IMM] = ("ld", IMM)
    table[CClass.LDX | CMode.IMM] = ("ldx", IMM)
    table[CClass.LDX | CSize.B | CMode.MSH] = ("ldxb", MSH)
    table[CClass.LD | CMode.MEM] = ("ld", MEM)
    table[CClass.LDX | CMode.MEM] = ("ldx", MEM)
    table[CClass.ST] = ("st", MEM)
    table[CClass.STX] = ("stx", MEM)
    table[CClass.JMP | JmpOp.JA] = ("ja", JA)
    for op, name in _JMP_NAMES.items():
        table[CClass.JMP | op | CSrc.K] = (name, KHEX)
        table[CClass.JMP | op | CSrc.X] = (name, XREG)
    for op, name in _ALU_NAMES.items():
        table[CClass.ALU | op | CSrc.K] = (name, KHEX if op in _ALU_HEX else KDEC)
        table[CClass.ALU | op | CSrc.X] = (name, XREG)
    table[CClass.ALU | AluOp.NEG] = ("neg", NONE)
    table[CClass.RET | RetVal.K] = ("ret", KDEC)
    table[CClass.RET | RetVal.A] = ("ret", RET_A)
    table[CClass.RET | RetVal.X] = ("ret", RET_X)  # bpf_asm emits it; Linux refuses it (check())
    table[CClass.MISC | MiscOp.TAX] = ("tax", NONE)
    table[CClass.MISC | MiscOp.TXA] = ("txa", NONE)
    return table


OPERANDS = _build_operands()
"""code -> (mnemonic, operand kind) for every opcode either syntax can write."""


def _s32(k: int) -> int:
    return k - (1 << 32) if k & 0x80000000 else k


def ancillary(k: int) -> SkfAd | None:
    """The SKF_AD_* an absolute load at `k` names, if any."""
    off = _s32(k) - SKF_AD_OFF
    if 0 <= off < SKF_AD_MAX:
        try:
            return SkfAd(off)
        except ValueError:
            return None
    return None


# ---- tcpdump -d ---------------------------------------------------------------------------------------------------
def _pcap_operand(insn: SockFilter, n: int) -> tuple[str, str]:
    entry = OPERANDS.get(insn.code)
    if entry is None or entry[1] == RET_X:
        return "unimp", f"0x{insn.code:x}"
    name, kind = entry
    k = insn.k
    if kind == ABS:
        ad = ancillary(k)
        return name, f"[{SKF_AD_PCAP_NAMES[ad]}]" if ad is not None else f"[{_s32(k)}]"
    text = {IND: lambda: f"[x + {_s32(k)}]", IMM: lambda: f"#0x{k:x}", LEN: lambda: "#pktlen",
            MEM: lambda: f"M[{_s32(k)}]", MSH: lambda: f"4*([{_s32(k)}]&0xf)", KDEC: lambda: f"#{_s32(k)}",
            KHEX: lambda: f"#0x{k:x}", XREG: lambda: "x", NONE: lambda: "", RET_A: lambda: "",
            JA: lambda: f"{n + 1 + k}"}[kind]()
    return name, text


def tcpdump_line(insn: SockFilter, n: int) -> str:
    """One line as `tcpdump -d` prints it (libpcap's bpf_image)."""
    op, operand = _pcap_operand(insn, n)
    if insn.cls == CClass.JMP and insn.op != JmpOp.JA:
        return f"({n:03d}) {op:<8} {operand:<16} jt {n + 1 + insn.jt}\tjf {n + 1 + insn.jf}"
    return f"({n:03d}) {op:<8} {operand}"


# ---- bpf_asm ------------------------------------------------------------------------------------------------------
def _asm_operand(insn: SockFilter, n: int) -> str:
    entry = OPERANDS.get(insn.code)
    if entry is None:
        raise DecodeError(f"instruction {n}: code {insn.code:#x} has no bpf_asm form", slot=n, offset=n * 8)
    name, kind = entry
    k = insn.k
    if kind == ABS:
        ad = ancillary(k)
        if ad is not None and ad in SKF_AD_ASM_NAMES:
            return f"{name} #{SKF_AD_ASM_NAMES[ad]}"
        return f"{name} [{_s32(k)}]"
    if kind == IMM:
        return f"{name} #{k:#x}"
    if kind == LEN:
        return f"{name} #len"
    if kind == MEM:
        return f"{name} M[{k}]"
    if kind == MSH:
        return f"{name} 4*([{_s32(k)}]&0xf)"
    if kind == IND:
        return f"{name} [x + {_s32(k)}]"
    if kind in (KDEC, KHEX):
        return f"{name} #{k:#x}" if kind == KHEX else f"{name} #{k}"
    if kind == XREG:
        return f"{name} x"
    if kind == RET_A:
        return f"{name} a"
    if kind == RET_X:
        return f"{name} x"
    return name


def bpf_asm_lines(prog: ClassicProgram) -> list[str]:
    """The program in bpf_asm syntax: a label line `lN:` before every jump target, jumps naming labels."""
    targets: set[int] = set()
    for n, insn in enumerate(prog):
        if insn.cls == CClass.JMP and insn.code in OPERANDS:
            if insn.op == JmpOp.JA:
                targets.add(n + 1 + insn.k)
            else:
                targets.update((n + 1 + insn.jt, n + 1 + insn.jf))
    out = []
    for n, insn in enumerate(prog):
        if n in targets:
            out.append(f"l{n}:")
        text = _asm_operand(insn, n)
        if insn.cls == CClass.JMP and insn.op == JmpOp.JA:
            text = f"ja l{n + 1 + insn.k}"
        elif insn.cls == CClass.JMP:
            text = f"{text}, l{n + 1 + insn.jt}, l{n + 1 + insn.jf}"
        out.append("\t" + text)
    for t in sorted(targets):
        if t >= len(prog):  # a jump past the end: say so with a label the text cannot resolve silently
            raise DecodeError(f"a jump targets instruction {t}, past the end ({len(prog)} instructions)")
    return out


# ---- raw arrays ---------------------------------------------------------------------------------------------------
def c_array_line(insn: SockFilter) -> str:
    """`tcpdump -dd`: `{ 0x28, 0, 0, 0x0000000c },`."""
    return f"{{ 0x{insn.code:x}, {insn.jt}, {insn.jf}, 0x{insn.k:08x} }},"


FORMATS: dict[str, Callable[[ClassicProgram], str]] = {
    "tcpdump": lambda p: "".join(tcpdump_line(i, n) + "\n" for n, i in enumerate(p)),
    "bpf_asm": lambda p: "".join(line + "\n" for line in bpf_asm_lines(p)),
    "c": lambda p: "".join(c_array_line(i) + "\n" for i in p),
    "ddd": lambda p: f"{len(p)}\n" + "".join(f"{i.code} {i.jt} {i.jf} {i.k}\n" for i in p),
    "bpf_asm_raw": lambda p: f"{len(p)}," + "".join(f"{i.code} {i.jt} {i.jf} {i.k}," for i in p) + "\n",
}
"""Output syntaxes: tcpdump (-d), bpf_asm, c (-dd, bpf_asm -c), ddd (-ddd), bpf_asm_raw (bpf_asm's default)."""


def disassemble(prog: ClassicProgram | Iterable[SockFilter] | bytes, fmt: str = "tcpdump") -> str:
    if isinstance(prog, (bytes, bytearray, memoryview)):
        prog = ClassicProgram.from_bytes(bytes(prog))
    elif not isinstance(prog, ClassicProgram):
        prog = ClassicProgram(prog)
    if fmt not in FORMATS:
        raise ValueError(f"unknown classic format {fmt!r} (choose from {', '.join(FORMATS)})")
    return FORMATS[fmt](prog)


__all__ = ["OPERANDS", "FORMATS", "ancillary", "tcpdump_line", "bpf_asm_lines", "c_array_line", "disassemble"]
