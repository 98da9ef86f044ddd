"""Disassemble an ELF object or an input file of unknown kind (raw bytes, hex text, ELF) the way llvm-objdump does.

For ELF, every executable section (SHF_EXECINSTR) is listed with its symbols as `<name>:` headers; in the "llvm"
style with `objdump=True` the output is llvm-objdump -d's, byte for byte, so the two can be diffed. pyelftools reads
the object; errors become ElfError / DecodeError with the section named.
"""
from __future__ import annotations

import io
import string
from dataclasses import dataclass, field

from pyebpf.abi.opcodes import INSN_SIZE, OP_CALL
from pyebpf.errors import DecodeError, ElfError
from pyebpf.isa.disassembler import disassemble, objdump_lines
from pyebpf.isa.program import Program

ELF_MAGIC = b"\x7fELF"
EM_BPF = 247
_SHF_EXECINSTR = 0x4
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
    from elftools.common.exceptions import ELFError
    from elftools.elf.elffile import ELFFile

    try:
        elf = ELFFile(io.BytesIO(data))
        if elf["e_machine"] not in ("EM_BPF", EM_BPF):
            raise ElfError(f"{path}: not a BPF object (e_machine {elf['e_machine']})")
        byteorder = "little" if elf.little_endian else "big"
        sections: list[CodeSection] = []
        index_of: dict[int, CodeSection] = {}
        for index, sec in enumerate(elf.iter_sections()):
            if sec["sh_flags"] & _SHF_EXECINSTR and sec["sh_type"] == "SHT_PROGBITS":
                code = CodeSection(sec.name, sec.data(), byteorder, {})
                sections.append(code)
                index_of[index] = code
        symtab = elf.get_section_by_name(".symtab")
        pending: list = []
        for sec in elf.iter_sections():
            if sec["sh_type"] != "SHT_REL" or sec["sh_info"] not in index_of or symtab is None:
                continue
            target = index_of[sec["sh_info"]]
            for rel in sec.iter_relocations():
                sym = symtab.get_symbol(rel["r_info_sym"])
                if sym is not None and rel["r_offset"] % INSN_SIZE == 0:
                    pending.append((target, rel["r_offset"], sym))
        if symtab is not None:
            for sym in symtab.iter_symbols():
                shndx = sym["st_shndx"]
                if not sym.name or not isinstance(shndx, int) or shndx not in index_of:
                    continue
                if sym["st_info"]["type"] in ("STT_SECTION", "STT_FILE"):
                    continue
                if sym["st_value"] % INSN_SIZE:
                    continue
                index_of[shndx].symbols.setdefault(sym.name, sym["st_value"] // INSN_SIZE)
        for target, offset, sym in pending:
            target.relocations[offset // INSN_SIZE] = _relocation_name(target, offset, sym, index_of)
    except ELFError as e:
        raise ElfError(f"{path}: bad ELF object: {e}") from None
    except (ValueError, KeyError, IndexError, OSError) as e:
        raise ElfError(f"{path}: bad ELF object: {e}") from None
    return sections


def _relocation_name(section: CodeSection, offset: int, sym, index_of: dict[int, CodeSection]) -> tuple[str, str]:
    """(name, symbol type) a relocation gives the instruction at `offset`.

    A call to a static function is relocated against its section's symbol; the callee is then the symbol at
    slot `value / 8 + imm + 1` of that section, as the loader will compute it.
    """
    kind = sym["st_info"]["type"]
    callee_section = index_of.get(sym["st_shndx"]) if isinstance(sym["st_shndx"], int) else None
    if kind == "STT_SECTION" and callee_section is not None and section.data[offset] == OP_CALL:
        imm = int.from_bytes(section.data[offset + 4:offset + 8], section.byteorder, signed=True)
        slot = sym["st_value"] // INSN_SIZE + imm + 1
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
