"""Disassemble an ELF object or an input file of unknown kind (raw bytes, hex text, ELF) the way llvm-objdump does.

For ELF, every executable section (SHF_EXECINSTR) is listed with its symbols as `<name>:` headers; in the "llvm"
style with `objdump=True` the output is llvm-objdump -d's, byte for byte, so the two can be diffed. The package's
ELF reader (`isa/elf_reader.py`, on pyelftools) reads the object; errors become ElfError / DecodeError with the
section named.
"""
from __future__ import annotations

import string
from dataclasses import dataclass, field

from pyebpf.abi.opcodes import INSN_SIZE, OP_CALL
from pyebpf.errors import DecodeError, ElfError
from pyebpf.isa.elf_reader import ElfFile, Symbol, SymType
from pyebpf.isa.disassembler import disassemble, objdump_lines
from pyebpf.isa.program import Program

ELF_MAGIC = b"\x7fELF"
_SYM_KIND = {t: f"STT_{t.name}" for t in SymType}
_HEX_TEXT = set(string.hexdigits + string.whitespace + "x,")


@dataclass
class CodeSection:
    """One executable section: its name, bytes, byte order and symbols (name -> slot)."""

    name: str
    data: bytes
    byteorder: str
    symbols: dict[str, int]
    #: slot -> (symbol name, symbol type) of the relocation at that slot (map loads, calls to other sections)
    relocations: dict[int, tuple[str, str]] = field(default_factory=dict)


def read_elf_sections(data: bytes, path: str = "<input>") -> list[CodeSection]:
    """Executable sections of an ELF object, with the function/label symbols that point into each."""
    elf = ElfFile(data, path, need_symbols=False)  # a stripped object still disassembles
    sections: list[CodeSection] = []
    index_of: dict[int, CodeSection] = {}
    for sec in elf.sections:
        if sec.is_exec:
            code = CodeSection(sec.name, sec.data, elf.byteorder, {})
            sections.append(code)
            index_of[sec.index] = code
    for sym in elf.symbols:
        if not sym.name or sym.shndx not in index_of or sym.type in (SymType.SECTION, SymType.FILE):
            continue
        if sym.value % INSN_SIZE or sym.value > len(index_of[sym.shndx].data):
            continue
        index_of[sym.shndx].symbols.setdefault(sym.name, sym.value // INSN_SIZE)
    for target_index, rels in elf.relocations.items():
        target = index_of.get(target_index)
        if target is None:
            continue
        for rel in rels:
            if rel.offset % INSN_SIZE == 0:
                target.relocations[rel.offset // INSN_SIZE] = _relocation_name(target, rel.offset, rel.symbol,
                                                                               index_of)
    return sections


def _relocation_name(section: CodeSection, offset: int, sym: Symbol, index_of: dict[int, CodeSection]
                     ) -> tuple[str, str]:
    """(name, symbol type) a relocation gives the instruction at `offset`.

    A call to a static function is relocated against its section's symbol; the callee is then the symbol at
    slot `value / 8 + imm + 1` of that section, as the loader will compute it.
    """
    kind = _SYM_KIND.get(sym.type, f"STT_{sym.type}")
    callee_section = index_of.get(sym.shndx)
    if sym.type == SymType.SECTION and callee_section is not None and section.data[offset] == OP_CALL:
        imm = int.from_bytes(section.data[offset + 4:offset + 8], section.byteorder, signed=True)
        slot = sym.value // INSN_SIZE + imm + 1
        for name, at in callee_section.symbols.items():
            if at == slot:
                return name, "STT_FUNC"
    return sym.name, kind


def _program(section: CodeSection) -> Program:
    """The section's instructions; relocated map loads and calls carry the symbol's name as `ref`."""
    try:
        program = Program.from_bytes(section.data, section.byteorder, labels=dict(section.symbols))
    except DecodeError as e:
        raise DecodeError(f"section {section.name}: {e.message}", e.slot, e.offset) from None
    if not section.relocations:
        return program
    named = []
    for slot, insn in program.by_slot():
        name, kind = section.relocations.get(slot, (None, None))
        if name and (insn.is_lddw or (insn.is_pseudo_call and kind == "STT_FUNC")):
            insn = insn.with_ref(name)
        named.append(insn)
    program.instructions = named
    return program


def disassemble_elf(data: bytes, path: str = "<input>", style: str = "llvm", section: str | None = None,
                    objdump: bool = True, symbolic: bool = False, alu32: bool = False) -> str:
    """The object's executable sections as text; llvm + objdump gives llvm-objdump -d's output exactly."""
    sections = read_elf_sections(data, path)
    if section is not None:
        chosen = [s for s in sections if s.name == section]
        if not chosen:
            names = ", ".join(s.name for s in sections) or "none"
            raise ElfError(f"{path}: no executable section {section!r} (sections with code: {names})")
        sections = chosen
    if style == "llvm" and objdump:
        fmt = "elf64-bpf"
        out = [f"\n{path}:\tfile format {fmt}\n"]
        for sec in sections:
            if not sec.data:
                continue  # llvm-objdump skips a code section of size 0 (clang's empty .text) without a header
            program = _program(sec)
            out.append("\n" + "\n".join(objdump_lines(program, sec.name, alu32, sec.byteorder)) + "\n")
        return "".join(out)
    parts = []
    for sec in sections:
        program = _program(sec)
        comment = ";" if style != "ubpf" else "#"
        parts.append(f"{comment} section {sec.name}\n" + _with_symbol_labels(program, style, symbolic, alu32))
    return "\n".join(parts)


def _with_symbol_labels(program: Program, style: str, symbolic: bool, alu32: bool) -> str:
    if symbolic:
        return disassemble(program, style, symbolic=True, alu32=alu32)
    names: dict[int, list[str]] = {}
    for name, slot in program.labels.items():
        names.setdefault(slot, []).append(name)
    lines = disassemble(program, style, alu32=alu32).splitlines()
    out = []
    for (slot, _), line in zip(program.by_slot(), lines):
        out += [f"{name}:" for name in names.get(slot, [])]
        out.append(line)
    return "\n".join(out) + "\n"


def looks_like_hex(data: bytes) -> bool:
    try:
        text = data.decode("ascii")
    except UnicodeDecodeError:
        return False
    return bool(text.strip()) and all(c in _HEX_TEXT for c in text)


def disassemble_input(data: bytes, path: str = "<input>", style: str = "llvm", section: str | None = None,
                      objdump: bool = False, symbolic: bool = False, alu32: bool = False,
                      byteorder: str = "little") -> str:
    """Disassemble a file of any supported kind: ELF object, hex text, or raw instruction bytes."""
    if not data:
        raise DecodeError(f"{path}: empty input, no instructions")
    if data.startswith(ELF_MAGIC):
        return disassemble_elf(data, path, style, section, objdump or (style == "llvm" and not symbolic), symbolic,
                               alu32)
    if section is not None:
        raise ElfError(f"{path}: --section needs an ELF object, this is not one")
    if looks_like_hex(data):
        text = data.decode("ascii").replace(",", " ")
        program = Program.from_hex(text, byteorder=byteorder)
    elif all(32 <= b < 127 or b in b"\t\r\n" for b in data):
        raise DecodeError(f"{path}: neither an ELF object, nor hex text, nor raw instructions "
                          f"(text that is not hex)")
    else:
        program = Program.from_bytes(data, byteorder)
    return disassemble(program, style, objdump=objdump, symbolic=symbolic, alu32=alu32, byteorder=byteorder)


__all__ = ["disassemble_elf", "disassemble_input", "read_elf_sections", "CodeSection", "looks_like_hex"]
