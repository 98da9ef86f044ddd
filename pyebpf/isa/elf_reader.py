"""The package's one ELF reader: BPF objects as clang writes them — sections, symbols, REL relocations.

pyelftools decodes the records (ELF header, section headers, symbols, relocations); this module checks every
offset and size against the file *before* anything is read or allocated, so a hostile object gives an `ElfError`
naming the section (never a pyelftools/construct exception, an OverflowError from a 2**63 offset, or gigabytes
allocated for a NOBITS section that claims them: NOBITS sections carry a size and no bytes). Both byte orders are
read (the disassembler shows big-endian objects); the loader refuses what it cannot load.
"""
from __future__ import annotations

import functools
import os
import stat
import struct
from dataclasses import dataclass
from enum import IntEnum
from typing import Any

from pyebpf.errors import ElfError

EM_BPF = 247
ELFCLASS64 = 2
ELFDATA2LSB, ELFDATA2MSB = 1, 2
ET_REL = 1
SHN_UNDEF, SHN_ABS, SHN_COMMON = 0, 0xFFF1, 0xFFF2
SHN_LORESERVE = 0xFF00
EHDR_SIZE, SHDR_SIZE, SYM_SIZE, REL_SIZE = 64, 64, 24, 16
#: files larger than this are refused before being read (objects with full debug info are a few MiB)
MAX_OBJECT_SIZE = 256 << 20


class ShType(IntEnum):
    NULL = 0
    PROGBITS = 1
    SYMTAB = 2
    STRTAB = 3
    RELA = 4
    NOBITS = 8
    REL = 9
    LLVM_ADDRSIG = 0x6FFF4C03


class ShFlags:
    WRITE = 0x1
    ALLOC = 0x2
    EXECINSTR = 0x4


class SymType(IntEnum):
    NOTYPE = 0
    OBJECT = 1
    FUNC = 2
    SECTION = 3
    FILE = 4


class SymBind(IntEnum):
    LOCAL = 0
    GLOBAL = 1
    WEAK = 2


class RelocType(IntEnum):
    """R_BPF_* (llvm BPF ELF relocation types)."""

    NONE = 0
    R_BPF_64_64 = 1  # lddw imm (map, global data, subprogram address)
    R_BPF_64_ABS64 = 2
    R_BPF_64_ABS32 = 3
    R_BPF_64_NODYLD32 = 4
    R_BPF_64_32 = 10  # call imm (bpf-to-bpf calls)


@dataclass(frozen=True)
class Section:
    index: int
    name: str
    type: int
    flags: int
    offset: int
    size: int
    link: int
    info: int
    addralign: int
    entsize: int
    data: bytes  # empty for NOBITS (and NULL): they occupy no bytes of the file

    @property
    def is_exec(self) -> bool:
        return self.type == ShType.PROGBITS and bool(self.flags & ShFlags.EXECINSTR)


@dataclass(frozen=True)
class Symbol:
    index: int
    name: str
    value: int
    size: int
    type: int
    bind: int
    shndx: int


@dataclass(frozen=True)
class Relocation:
    offset: int  # byte offset in the target section
    type: int
    symbol: Symbol


@functools.lru_cache(maxsize=8)
def _structs(little_endian: bool, e_type: Any = None, e_machine: Any = None, osabi: Any = None) -> Any:
    """pyelftools' record layouts (built once per kind of object; building them costs more than a small object)."""
    from elftools.elf.structs import ELFStructs

    structs = ELFStructs(little_endian=little_endian, elfclass=64)
    structs.create_basic_structs()
    if e_type is not None:
        structs.create_advanced_structs(e_type, e_machine, osabi)
    return structs


def _unmap(value: Any, table: dict[str, Any]) -> int:
    """pyelftools maps known enum values to names; back to the number (unknown values stay ints)."""
    return value if isinstance(value, int) else int(table[value])


class ElfFile:
    """An ELF64 object for EM_BPF: `sections`, `by_name`, `symbols`, `relocations` (by patched section index)."""

    def __init__(self, data: bytes, path: str = "<bytes>", *, need_symbols: bool = True):
        from elftools.common.exceptions import ELFError
        from elftools.construct.core import ConstructError

        self.path = path
        self._need_symbols = need_symbols
        self.data = data = bytes(data)
        if data[:4] != b"\x7fELF":
            raise ElfError(f"{path}: not an ELF file")
        if len(data) < EHDR_SIZE:
            raise ElfError(f"{path}: bad ELF object: {len(data)} bytes, shorter than the {EHDR_SIZE}-byte ELF header")
        if data[4] != ELFCLASS64:
            raise ElfError(f"{path}: not a 64-bit ELF (EI_CLASS={data[4]})")
        if data[5] not in (ELFDATA2LSB, ELFDATA2MSB):
            raise ElfError(f"{path}: bad byte order (EI_DATA={data[5]})")
        self.little_endian = data[5] == ELFDATA2LSB
        self.byteorder = "little" if self.little_endian else "big"
        try:
            self._read(data)
        except ElfError:
            raise
        except (ELFError, ConstructError, ValueError, KeyError, IndexError, OverflowError, struct.error,
                EOFError) as e:  # a record pyelftools cannot decode: the object is malformed
            raise ElfError(f"{path}: bad ELF object: {type(e).__name__}: {e}") from None

    def _read(self, data: bytes) -> None:
        elf = _structs(self.little_endian).Elf_Ehdr.parse(data[:EHDR_SIZE])
        self.e_type = elf["e_type"] if isinstance(elf["e_type"], int) else {"ET_REL": ET_REL}.get(elf["e_type"], -1)
        self.e_machine = int.from_bytes(data[18:20], self.byteorder)  # e_machine, as a number for the message
        if self.e_machine != EM_BPF:
            raise ElfError(f"{self.path}: wrong machine {self.e_machine} ({elf['e_machine']}) (expected EM_BPF "
                           f"{EM_BPF}); compile with -target bpf")
        self._structs = _structs(self.little_endian, elf["e_type"], elf["e_machine"],
                                 elf["e_ident"]["EI_OSABI"])
        shoff, shnum, shentsize, shstrndx = elf["e_shoff"], elf["e_shnum"], elf["e_shentsize"], elf["e_shstrndx"]
        if shnum == 0 and shoff:
            raise ElfError(f"{self.path}: extended section numbering (e_shnum 0) is not used by BPF objects")
        if shentsize != SHDR_SIZE or shoff + shnum * SHDR_SIZE > len(data):
            raise ElfError(f"{self.path}: section header table at {shoff:#x} ({shnum} x {shentsize} bytes) is "
                           "out of the file")
        shdr = self._structs.Elf_Shdr
        raw = [shdr.parse(data[shoff + i * SHDR_SIZE:shoff + (i + 1) * SHDR_SIZE]) for i in range(shnum)]
        if not 0 < shstrndx < shnum:
            raise ElfError(f"{self.path}: bad section name table index {shstrndx}")
        shstr = self._bytes(raw[shstrndx], "section name table", 0)
        self.sections: list[Section] = []
        for i, h in enumerate(raw):
            name = _cstr(shstr, h["sh_name"])
            typ = self._sh_type(h["sh_type"])
            body = b"" if typ in (ShType.NOBITS, ShType.NULL) else self._bytes(h, f"section {name!r}", typ)
            self.sections.append(Section(i, name, typ, h["sh_flags"], h["sh_offset"], h["sh_size"], h["sh_link"],
                                         h["sh_info"], h["sh_addralign"], h["sh_entsize"], body))
        self.by_name = {s.name: s for s in self.sections if s.name}
        self.symbols = self._read_symbols()
        self.relocations = self._read_relocations()

    @staticmethod
    def _sh_type(value: Any) -> int:
        from elftools.elf.enums import ENUM_SH_TYPE_BASE

        if isinstance(value, int):
            return value
        if value in ENUM_SH_TYPE_BASE:
            return int(ENUM_SH_TYPE_BASE[value])
        return ShType.LLVM_ADDRSIG if value == "SHT_LLVM_ADDRSIG" else -1

    @classmethod
    def open(cls, path: str, limit: int = MAX_OBJECT_SIZE, **kw: Any) -> "ElfFile":
        """Read and parse `path`. A file that does not start like an ELF object is refused after its first bytes,
        and one larger than `limit` before it is read in full (so /dev/zero or a FIFO cannot exhaust memory)."""
        try:
            with open(path, "rb") as f:
                size = os.fstat(f.fileno()).st_size
                if stat.S_ISREG(os.fstat(f.fileno()).st_mode) and size > limit:
                    raise ElfError(f"{path}: {size} bytes, larger than {limit} bytes, more than any BPF object")
                head = f.read(EHDR_SIZE)
                if head[:4] != b"\x7fELF":
                    raise ElfError(f"{path}: not an ELF file")
                data = head + f.read(limit + 1 - len(head))
        except OSError as e:
            raise ElfError(f"{path}: {e.strerror}", e.errno) from None
        if len(data) > limit:
            raise ElfError(f"{path}: larger than {limit} bytes, more than any BPF object")
        return cls(data, path, **kw)

    def _bytes(self, shdr: Any, what: str, typ: int) -> bytes:
        off, size = shdr["sh_offset"], shdr["sh_size"]
        if off > len(self.data) or size > len(self.data) - off:
            raise ElfError(f"{self.path}: {what} (offset {off:#x}, {size} bytes) runs past the end of the file")
        return self.data[off:off + size]

    def _read_symbols(self) -> list[Symbol]:
        from elftools.elf.enums import ENUM_ST_INFO_BIND, ENUM_ST_INFO_TYPE, ENUM_ST_SHNDX

        symtabs = [s for s in self.sections if s.type == ShType.SYMTAB]
        if not symtabs and not self._need_symbols:
            return []
        if not symtabs:
            raise ElfError(f"{self.path}: no .symtab section")
        st = symtabs[0]
        if not 0 < st.link < len(self.sections) or self.sections[st.link].type != ShType.STRTAB:
            raise ElfError(f"{self.path}: .symtab links to bad string table {st.link}")
        if st.size % SYM_SIZE:
            raise ElfError(f"{self.path}: .symtab is {st.size} bytes, not whole {SYM_SIZE}-byte symbols")
        strtab = self.sections[st.link].data
        parse = self._structs.Elf_Sym.parse
        out = []
        for i in range(len(st.data) // SYM_SIZE):
            s = parse(st.data[i * SYM_SIZE:(i + 1) * SYM_SIZE])
            info = s["st_info"]
            out.append(Symbol(i, _cstr(strtab, s["st_name"]), s["st_value"], s["st_size"],
                              _unmap(info["type"], ENUM_ST_INFO_TYPE), _unmap(info["bind"], ENUM_ST_INFO_BIND),
                              _unmap(s["st_shndx"], ENUM_ST_SHNDX)))
        return out

    def _read_relocations(self) -> dict[int, list[Relocation]]:
        """REL sections by the index of the section they patch, for sections that are loaded (SHF_ALLOC: code,
        maps, data); relocations of debug info and .BTF/.BTF.ext are read by no one here, so not decoded."""
        out: dict[int, list[Relocation]] = {}
        parse = self._structs.Elf_Rel.parse
        for s in self.sections:
            if s.type == ShType.RELA:
                raise ElfError(f"{self.path}: section {s.name!r}: RELA relocations are not used by BPF objects")
            if s.type != ShType.REL:
                continue
            if not 0 < s.info < len(self.sections):
                raise ElfError(f"{self.path}: section {s.name!r} relocates bad section index {s.info}")
            if s.size % REL_SIZE:
                raise ElfError(f"{self.path}: section {s.name!r} is {s.size} bytes, not whole relocations")
            target = self.sections[s.info]
            if not target.flags & ShFlags.ALLOC:
                continue
            rels = []
            for i in range(len(s.data) // REL_SIZE):
                r = parse(s.data[i * REL_SIZE:(i + 1) * REL_SIZE])
                off, sym_idx, typ = r["r_offset"], r["r_info_sym"], r["r_info_type"]
                if sym_idx >= len(self.symbols):
                    raise ElfError(f"{self.path}: section {s.name!r} relocation #{i} at offset {off:#x}: bad "
                                   f"symbol index {sym_idx}")
                if target.type != ShType.NOBITS and off >= target.size:
                    raise ElfError(f"{self.path}: section {s.name!r} relocation #{i}: offset {off:#x} is past the "
                                   f"end of {target.name!r} ({target.size} bytes)")
                rels.append(Relocation(off, typ, self.symbols[sym_idx]))
            out.setdefault(s.info, []).extend(rels)
        return out

    def section(self, name: str) -> Section:
        try:
            return self.by_name[name]
        except KeyError:
            raise ElfError(f"{self.path}: missing section {name!r}") from None

    def symbol_section(self, sym: Symbol) -> Section | None:
        """The section a symbol is defined in; None for undefined and special (SHN_ABS, SHN_COMMON, ...) ones."""
        if sym.shndx == SHN_UNDEF or sym.shndx >= min(len(self.sections), SHN_LORESERVE):
            return None
        return self.sections[sym.shndx]


def _cstr(table: bytes, off: int) -> str:
    if off >= len(table):
        return ""
    end = table.find(b"\0", off)
    return table[off:end if end >= 0 else len(table)].decode(errors="replace")


__all__ = ["ElfFile", "Section", "Symbol", "Relocation", "RelocType", "ShType", "ShFlags", "SymType", "SymBind",
           "EM_BPF", "ET_REL", "SHN_UNDEF", "SHN_ABS", "SHN_COMMON"]
