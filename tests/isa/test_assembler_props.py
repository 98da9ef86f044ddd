"""Property: a random valid instruction, written the way LLVM, the kernel log and the conformance suite write it,
assembles back to the same instruction.

The writers below are this test's own, from the printing rules of LLVM's BPFInstrInfo.td, the kernel's
kernel/bpf/disasm.c and bpf_conformance's assembler; they do not use pyebpf's disassembler.
"""
from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from pyebpf.abi.helpers import HelperId
from pyebpf.isa.assembler import assemble_instruction
from pyebpf.isa.instruction import Instruction

REG = st.integers(0, 10)
IMM = st.integers(-(1 << 31), (1 << 31) - 1)
OFF = st.integers(-(1 << 15), (1 << 15) - 1)

ALU_OPS = {0x00: ("+=", "add"), 0x10: ("-=", "sub"), 0x20: ("*=", "mul"), 0x30: ("/=", "div"),
           0x40: ("|=", "or"), 0x50: ("&=", "and"), 0x60: ("<<=", "lsh"), 0x70: (">>=", "rsh"),
           0x90: ("%=", "mod"), 0xA0: ("^=", "xor"), 0xC0: ("s>>=", "arsh")}
JMP_OPS = {0x10: ("==", "jeq"), 0x20: (">", "jgt"), 0x30: (">=", "jge"), 0x40: ("&", "jset"),
           0x50: ("!=", "jne"), 0x60: ("s>", "jsgt"), 0x70: ("s>=", "jsge"), 0xA0: ("<", "jlt"),
           0xB0: ("<=", "jle"), 0xC0: ("s<", "jslt"), 0xD0: ("s<=", "jsle")}
SIZES = {0x00: ("u32", "w", "s32"), 0x08: ("u16", "h", "s16"), 0x10: ("u8", "b", "s8"), 0x18: ("u64", "dw", None)}
HELPER_IDS = {int(h) for h in HelperId}
ATOMICS = [0x00, 0x40, 0x50, 0xA0, 0x01, 0x41, 0x51, 0xA1, 0xE1, 0xF1]


@st.composite
def instructions(draw) -> Instruction:
    kind = draw(st.sampled_from(["alu", "mov", "movsx", "neg", "end", "ldx", "ldsx", "st", "stx", "atomic",
                                 "jmp", "ja", "call", "exit", "lddw"]))
    dst, src = draw(REG), draw(REG)
    if kind == "alu":
        cls = draw(st.sampled_from([0x04, 0x07]))
        op = draw(st.sampled_from(sorted(ALU_OPS)))
        off = draw(st.sampled_from([0, 1])) if op in (0x30, 0x90) else 0
        if draw(st.booleans()):
            return Instruction(cls | op | 0x08, dst, src, off, 0)
        return Instruction(cls | op, dst, 0, off, draw(IMM))
    if kind == "mov":
        cls = draw(st.sampled_from([0x04, 0x07]))
        if draw(st.booleans()):
            return Instruction(cls | 0xB8, dst, src)
        return Instruction(cls | 0xB0, dst, 0, 0, draw(IMM))
    if kind == "movsx":
        cls = draw(st.sampled_from([0x04, 0x07]))
        return Instruction(cls | 0xB8, dst, src, draw(st.sampled_from([8, 16] if cls == 0x04 else [8, 16, 32])))
    if kind == "neg":
        return Instruction(draw(st.sampled_from([0x84, 0x87])), dst)
    if kind == "end":
        return Instruction(draw(st.sampled_from([0xD4, 0xDC, 0xD7])), dst, 0, 0, draw(st.sampled_from([16, 32, 64])))
    size = draw(st.sampled_from(sorted(SIZES)))
    if kind == "ldx":
        return Instruction(0x61 | size, dst, src, draw(OFF))
    if kind == "ldsx":
        return Instruction(0x81 | draw(st.sampled_from([0x00, 0x08, 0x10])), dst, src, draw(OFF))
    if kind == "st":
        return Instruction(0x62 | size, dst, 0, draw(OFF), draw(IMM))
    if kind == "stx":
        return Instruction(0x63 | size, dst, src, draw(OFF))
    if kind == "atomic":
        imm = draw(st.sampled_from(ATOMICS))
        size = draw(st.sampled_from([0x00, 0x18]))
        return Instruction(0xC3 | size, dst, src, draw(OFF), imm)
    if kind == "jmp":
        cls = draw(st.sampled_from([0x05, 0x06]))
        op = draw(st.sampled_from(sorted(JMP_OPS)))
        if draw(st.booleans()):
            return Instruction(cls | op | 0x08, dst, src, draw(OFF))
        return Instruction(cls | op, dst, 0, draw(OFF), draw(IMM))
    if kind == "ja":
        which = draw(st.sampled_from(["ja", "ja32", "may_goto"]))
        if which == "ja32":
            return Instruction(0x06, 0, 0, 0, draw(IMM))
        return Instruction(0x05 if which == "ja" else 0xE5, 0, 0, draw(OFF))
    if kind == "call":
        which = draw(st.sampled_from(["helper", "local", "callx"]))
        if which == "helper":
            return Instruction(0x85, 0, 0, 0, draw(st.integers(1, 250)))
        if which == "local":
            return Instruction(0x85, 0, 1, 0, draw(IMM))
        return Instruction(0x8D, dst)
    if kind == "exit":
        return Instruction(0x95)
    return Instruction(0x18, dst, 0, 0, draw(st.integers(-(1 << 63), (1 << 63) - 1)))


def _mem(base: int, off: int, kernel: bool) -> str:
    if kernel:
        return f"r{base} {off:+d}"
    return f"r{base} + {off}" if off >= 0 else f"r{base} - {-off}"


def llvm_text(i: Instruction, kernel: bool = False) -> str:
    """As LLVM (kernel=False) or kernel/bpf/disasm.c (kernel=True) prints it."""
    code, cls = i.opcode, i.opcode & 7
    if cls in (0x04, 0x07):
        p = "w" if cls == 0x04 else "r"
        op = code & 0xF0
        if op == 0x80:
            return f"{p}{i.dst} = -{p}{i.dst}"
        if op == 0xD0:
            name = "bswap" if cls == 0x07 else ("be" if code & 0x08 else "le")
            return f"r{i.dst} = {name}{i.imm} r{i.dst}"
        if op == 0xB0:
            if code & 0x08:
                cast = f"(s{i.off})" if i.off else ""
                return f"{p}{i.dst} = {cast}{p}{i.src}"
            return f"{p}{i.dst} = {i.imm}"
        sym = ALU_OPS[op][0]
        if i.off == 1:
            sym = "s" + sym
        return f"{p}{i.dst} {sym} {p + str(i.src) if code & 0x08 else i.imm}"
    if cls in (0x05, 0x06):
        target = (lambda n: f"pc{n:+d}") if kernel else (lambda n: f"{n:+d}")
        if code == 0x95:
            return "exit"
        if code == 0x85:
            if i.src == 1:
                return f"call pc{i.imm:+d}"
            if kernel:  # `call bpf_map_lookup_elem#1`, or `unknown#N` for ids the kernel has no name for
                name = "bpf_" + HelperId(i.imm).name.lower() if i.imm in HELPER_IDS else "unknown"
                return f"call {name}#{i.imm}"
            return f"call {i.imm}"
        if code == 0x8D:
            return f"call r{i.dst}" if kernel else f"callx r{i.dst}"
        if code == 0x05:
            return f"goto {target(i.off)}"
        if code == 0x06:
            return f"gotol {target(i.imm)}"
        if code == 0xE5:
            return f"may_goto {target(i.off)}"
        p = "w" if cls == 0x06 else "r"
        operand = f"{p}{i.src}" if code & 0x08 else (f"{i.imm & 0xFFFFFFFF:#x}" if kernel else str(i.imm))
        return f"if {p}{i.dst} {JMP_OPS[code & 0xF0][0]} {operand} goto {target(i.off)}"
    if code == 0x18:
        return f"r{i.dst} = {i.imm & 0xFFFFFFFFFFFFFFFF:#x}" if kernel else f"r{i.dst} = {i.imm} ll"
    size = code & 0x18
    unsigned, _, signed = SIZES[size]
    if cls == 0x01:
        ty = signed if code & 0xE0 == 0x80 else unsigned
        return f"r{i.dst} = *({ty} *)({_mem(i.src, i.off, kernel)})"
    if cls == 0x02:
        return f"*({unsigned} *)({_mem(i.dst, i.off, kernel)}) = {i.imm}"
    if code & 0xE0 == 0x60:
        return f"*({unsigned} *)({_mem(i.dst, i.off, kernel)}) = r{i.src}"
    where = _mem(i.dst, i.off, kernel)
    wide = size == 0x18
    p = "r" if wide or kernel else "w"
    if i.imm in (0x00, 0x40, 0x50, 0xA0):
        sym = {0x00: "+=", 0x40: "|=", 0x50: "&=", 0xA0: "^="}[i.imm]
        return f"lock *({unsigned} *)({where}) {sym} {p}{i.src}"
    if i.imm in (0x01, 0x41, 0x51, 0xA1):
        name = {0x01: "add", 0x41: "or", 0x51: "and", 0xA1: "xor"}[i.imm]
        bits = "64" if kernel and wide else ""
        return f"{p}{i.src} = atomic{bits}_fetch_{name}(({unsigned} *)({where}), {p}{i.src})"
    if kernel:
        bits = "64" if wide else ""
        if i.imm == 0xE1:
            return f"r{i.src} = atomic{bits}_xchg(({unsigned} *)({where}), r{i.src})"
        return f"r0 = atomic{bits}_cmpxchg(({unsigned} *)({where}), r0, r{i.src})"
    if i.imm == 0xE1:
        return f"{p}{i.src} = {'xchg_64' if wide else 'xchg32_32'}({where}, {p}{i.src})"
    return f"{p}0 = {'cmpxchg_64' if wide else 'cmpxchg32_32'}({where}, {p}0, {p}{i.src})"


def ubpf_text(i: Instruction) -> str:
    """As the bpf_conformance suite's .data files write it."""
    code, cls = i.opcode, i.opcode & 7
    r = lambda n: f"%r{n}"  # noqa: E731
    mem = lambda b, o: f"[%r{b}{o:+d}]"  # noqa: E731
    if cls in (0x04, 0x07):
        sfx = "32" if cls == 0x04 else ""
        op = code & 0xF0
        if op == 0x80:
            return f"neg{sfx} {r(i.dst)}"
        if op == 0xD0:
            name = "swap" if cls == 0x07 else ("be" if code & 0x08 else "le")
            return f"{name}{i.imm} {r(i.dst)}"
        if op == 0xB0:
            if code & 0x08 and i.off:
                return f"movsx{i.off}{'32' if cls == 0x04 else '64'} {r(i.dst)}, {r(i.src)}"
            name = "mov"
        else:
            name = ALU_OPS[op][1]
            if i.off == 1:
                name = "s" + name
        operand = r(i.src) if code & 0x08 else f"{i.imm & 0xFFFFFFFF:#x}"
        return f"{name}{sfx} {r(i.dst)}, {operand}"
    if cls in (0x05, 0x06):
        if code == 0x95:
            return "exit"
        if code == 0x85:
            return f"call local {i.imm:+d}" if i.src == 1 else f"call {i.imm}"
        if code == 0x8D:
            return f"call {r(i.dst)}"
        if code == 0x05:
            return f"ja {i.off:+d}"
        if code == 0x06:
            return f"ja32 {i.imm:+d}"
        if code == 0xE5:
            return f"may_goto {i.off:+d}"
        operand = r(i.src) if code & 0x08 else str(i.imm)
        return f"{JMP_OPS[code & 0xF0][1]}{'32' if cls == 0x06 else ''} {r(i.dst)}, {operand}, {i.off:+d}"
    if code == 0x18:
        return f"lddw {r(i.dst)}, {i.imm & 0xFFFFFFFFFFFFFFFF:#x}"
    sfx = SIZES[code & 0x18][1]
    if cls == 0x01:
        return f"ldx{'s' if code & 0xE0 == 0x80 else ''}{sfx} {r(i.dst)}, {mem(i.src, i.off)}"
    if cls == 0x02:
        return f"st{sfx} {mem(i.dst, i.off)}, {i.imm}"
    if code & 0xE0 == 0x60:
        return f"stx{sfx} {mem(i.dst, i.off)}, {r(i.src)}"
    width = "32" if code & 0x18 == 0 else ""
    name = {0x00: "add", 0x40: "or", 0x50: "and", 0xA0: "xor", 0x01: "fetch add", 0x41: "fetch or",
            0x51: "fetch and", 0xA1: "fetch xor", 0xE1: "xchg", 0xF1: "cmpxchg"}[i.imm]
    return f"lock {name}{width} {mem(i.dst, i.off)}, {r(i.src)}"


@settings(max_examples=400)
@given(instructions())
def test_llvm_text_reassembles(insn: Instruction):
    text = llvm_text(insn)
    assert assemble_instruction(text, "llvm") == insn, text
    assert assemble_instruction(text) == insn, text


@settings(max_examples=400)
@given(instructions())
def test_kernel_log_text_reassembles(insn: Instruction):
    text = f"{insn.opcode:02x}"
    text = f"7: ({text}) {llvm_text(insn, kernel=True)}"
    assert assemble_instruction(text, "kernel") == insn, text
    assert assemble_instruction(text) == insn, text


@settings(max_examples=400)
@given(instructions())
def test_ubpf_text_reassembles(insn: Instruction):
    text = ubpf_text(insn)
    assert assemble_instruction(text, "ubpf") == insn, text
    assert assemble_instruction(text) == insn, text
