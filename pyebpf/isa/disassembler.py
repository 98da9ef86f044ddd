"""`disassemble()`: a program (or its bytes) as text in one of three dialects.

- "llvm": LLVM's BPF assembly, exactly as `llvm-objdump -d` prints each instruction (LLVM 14 for what it knows,
  LLVM 17+ text for cpu v4 forms). `objdump=True` adds llvm-objdump's layout (slot numbers, raw bytes, `<sym>:`
  headers and `<sym+0x..>` branch annotations) so the output diffs against the tool's.
- "kernel": the verifier log's text (print_bpf_insn), `slot: (op) text` per line.
- "ubpf": the uBPF / bpf_conformance dialect.

`symbolic=True` prints labels for branch targets, function names for bpf-to-bpf calls, helper names and
`map[name]` for map references, so the text re-assembles to the same program with its references intact.
"""
from __future__ import annotations

from bisect import bisect_right

from typing import Iterable, Sequence

from pyebpf.abi.helpers import helper_name
from pyebpf.abi.opcodes import INSN_SIZE, OP_CALLX
from pyebpf.errors import PyebpfError
from pyebpf.isa import disasm_kernel, disasm_llvm, disasm_ubpf
from pyebpf.isa.instruction import VALID_OPCODES, Instruction
from pyebpf.isa.program import Program

STYLES = ("llvm", "kernel", "ubpf")


class DisassemblyError(PyebpfError, ValueError):
    """Bad arguments to the disassembler (unknown style, input that is neither bytes nor a program)."""


def as_program(program_or_bytes: "Program | bytes | bytearray | memoryview | str | Iterable[Instruction]",
               byteorder: str = "little") -> Program:
    """A Program from a Program, raw bytes, hex text or a list of instructions (DecodeError on bad bytes)."""
    if isinstance(program_or_bytes, Program):
        return program_or_bytes
    if isinstance(program_or_bytes, (bytes, bytearray, memoryview)):
        return Program.from_bytes(bytes(program_or_bytes), byteorder)
    if isinstance(program_or_bytes, str):
        return Program.from_hex(program_or_bytes, byteorder=byteorder)
    try:
        instructions = list(program_or_bytes)
    except TypeError:
        raise DisassemblyError(f"cannot disassemble a {type(program_or_bytes).__name__}") from None
    if not all(isinstance(i, Instruction) for i in instructions):
        raise DisassemblyError("cannot disassemble: expected Instruction items")
    return Program(instructions)


def format_instruction(insn: Instruction, style: str = "llvm", alu32: bool = False) -> str:
    """Text of one instruction, without symbols (kernel style includes the `(op) ` prefix).

    Instructions decoded without validation (e.g. a kernel's xlated dump) may be malformed; they print as each
    tool prints what it cannot decode: `<unknown>` (llvm-objdump), `unknown 0x..` (bpf_conformance), and for the
    kernel style print_bpf_insn's own `BUG_..`/`(null)` text.
    """
    if style == "llvm":
        return _llvm_text(insn, alu32)
    if style == "kernel":
        return disasm_kernel.format_insn(insn)
    if style == "ubpf":
        if insn.opcode not in VALID_OPCODES:
            return f"unknown {insn.opcode:#x}"
        try:
            return disasm_ubpf.format_insn(insn)
        except (KeyError, ValueError):
            return f"unknown {insn.opcode:#x}"
    raise DisassemblyError(f"unknown disassembly style {style!r} (choose from {', '.join(STYLES)})")


def _llvm_text(insn: Instruction, alu32: bool = False) -> str:
    if insn.opcode not in VALID_OPCODES:
        return "<unknown>"
    try:
        return disasm_llvm.format_insn(insn, alu32)
    except (KeyError, ValueError):
        return "<unknown>"


# ---- symbols ----------------------------------------------------------------------------------------------------

class _Symbols:
    """Names for slots: the program's own labels first, then `L<slot>` for every other branch target."""

    def __init__(self, program: Program, generate: bool):
        self.by_slot: dict[int, str] = {}
        for name, slot in sorted(program.labels.items(), key=lambda kv: kv[1]):
            self.by_slot.setdefault(slot, name)
        if not generate:
            return
        starts = set(program.slot_starts)
        end = program.slot_count
        for slot, insn in program.by_slot():
            if insn.is_branch or insn.is_pseudo_call:
                target = insn.target(slot)
                if (target in starts or target == end) and target not in self.by_slot:
                    self.by_slot[target] = f"L{target}"

    def target(self, slot: int, insn: Instruction) -> str | None:
        if insn.is_pseudo_call and insn.ref:
            return insn.ref
        if insn.is_branch or insn.is_pseudo_call:
            return self.by_slot.get(insn.target(slot))
        return None


def _callee(insn: Instruction, symbols: _Symbols, slot: int) -> str | None:
    if insn.is_helper_call:
        # helper 0 (BPF_FUNC_unspec) has a name in the kernel's table but is no callable helper: keep the number
        return helper_name(insn.imm) if insn.imm else None
    if insn.is_pseudo_call:
        return symbols.target(slot, insn)
    if insn.is_kfunc_call and insn.ref:
        return insn.ref
    return None


def _map_value(insn: Instruction) -> str | None:
    return f"map[{insn.ref}]" if insn.is_lddw and insn.ref else None


def _symbolic_line(insn: Instruction, slot: int, style: str, symbols: _Symbols, alu32: bool) -> str:
    target = symbols.target(slot, insn)
    callee = _callee(insn, symbols, slot)
    value = _map_value(insn)
    if style == "llvm":
        if insn.is_lddw and value:
            return disasm_llvm.format_lddw(insn, value)
        if insn.is_jump and not insn.is_call:
            return disasm_llvm.format_jmp(insn, target=target)
        if insn.is_call and insn.opcode != OP_CALLX:
            return disasm_llvm.format_jmp(insn, callee=callee)
        return disasm_llvm.format_insn(insn, alu32)
    if style == "ubpf":
        return disasm_ubpf.format_insn(insn, target=target, callee=callee, value=value)
    # the kernel always prints bpf-to-bpf calls as `call pc+N`; names replace only maps, helpers and kfuncs
    return disasm_kernel.format_insn(insn, imm_text=value, callee=None if insn.is_pseudo_call else callee)


# ---- llvm-objdump layout ----------------------------------------------------------------------------------------

def _hex_bytes(insn: Instruction, byteorder: str) -> str:
    return insn.encode(byteorder).hex(" ")


def _annotation(target_slot: int, symbols: Sequence[tuple[int, str]], slots: Sequence[int], section: str) -> str:
    """llvm-objdump's ` <sym+0x..>` after a branch: the nearest symbol at or before the target byte address.

    `symbols` is sorted by slot and `slots` is its slot column, so the symbol is found by bisection (the last one
    at or before the target, as llvm-objdump picks it)."""
    address = target_slot * INSN_SIZE
    i = bisect_right(slots, target_slot) - 1
    base_slot, name = symbols[i] if i >= 0 else (0, section)
    delta = address - base_slot * INSN_SIZE
    return f" <{name}+{delta:#x}>" if delta else f" <{name}>"


def objdump_lines(program: Program, section: str = ".text", alu32: bool = False, byteorder: str = "little",
                  symbols: dict[str, int] | None = None) -> list[str]:
    """llvm-objdump -d's lines for one section: `<sym>:` headers, `slot:\\tbytes\\ttext` and branch annotations."""
    labels = dict(program.labels if symbols is None else symbols)
    ordered = sorted(((slot, name) for name, slot in labels.items()), key=lambda t: t[0])
    ordered_slots = [slot for slot, _ in ordered]
    headers: dict[int, list[str]] = {}
    for slot, name in ordered:
        headers.setdefault(slot, []).append(name)
    lines = [f"Disassembly of section {section}:"]
    if not headers.get(0) and program.instructions:
        lines += ["", f"{0:016x} <{section}>:"]
    for slot, insn in program.by_slot():
        for name in headers.get(slot, []):
            lines += ["", f"{slot * INSN_SIZE:016x} <{name}>:"]
        text = _llvm_text(insn, alu32)
        if insn.is_branch and insn.opcode in VALID_OPCODES:
            text += _annotation(insn.target(slot), ordered, ordered_slots, section)
        lines.append(f"{slot:8d}:\t{_hex_bytes(insn, byteorder)}\t{text}")
    return lines


# ---- the entry point --------------------------------------------------------------------------------------------

def disassemble(program_or_bytes: "Program | bytes | str | Iterable[Instruction]", style: str = "llvm", *,
                objdump: bool = False, symbolic: bool = False, alu32: bool = False, byteorder: str = "little",
                section: str = ".text") -> str:
    """Text of a program, one instruction a line (see the module docstring for styles and options)."""
    if style not in STYLES:
        raise DisassemblyError(f"unknown disassembly style {style!r} (choose from {', '.join(STYLES)})")
    program = as_program(program_or_bytes, byteorder)
    if objdump:
        if style != "llvm":
            raise DisassemblyError("objdump layout exists only for style 'llvm'")
        return "\n".join(objdump_lines(program, section, alu32, byteorder)) + "\n"
    lines: list[str] = []
    symbols = _Symbols(program, generate=symbolic)
    for slot, insn in program.by_slot():
        if symbolic and slot in symbols.by_slot:
            lines.append(f"{symbols.by_slot[slot]}:")
        if symbolic and insn.opcode in VALID_OPCODES:
            text = _symbolic_line(insn, slot, style, symbols, alu32)
        else:
            text = format_instruction(insn, style, alu32)
        lines.append(f"{slot}: {text}" if style == "kernel" else text)
    end = program.slot_count
    if symbolic and end in symbols.by_slot:
        lines.append(f"{symbols.by_slot[end]}:")
    return "\n".join(lines) + ("\n" if lines else "")


__all__ = ["disassemble", "format_instruction", "objdump_lines", "as_program", "DisassemblyError", "STYLES"]
