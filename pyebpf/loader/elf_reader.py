"""Raw ELF64 relocatable objects as clang writes them for BPF: sections, symbols, REL relocations.

Only what a BPF loader needs, read straight with `struct` so that every malformed field becomes an `ElfError`
naming the section and offset (and so reading stays fast: no general-purpose ELF library in the hot path).
"""
from __future__ import annotations

import struct
from dataclasses import dataclass
from enum import IntEnum

from pyebpf.errors import ElfError

EM_BPF = 247
ELFCLASS64 = 2
ELFDATA2LSB, ELFDATA2MSB = 1, 2
ET_REL = 1
SHN_UNDEF, SHN_ABS, SHN_COMMON = 0, 0xFFF1, 0xFFF2


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
    data: bytes  # empty for NOBITS

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


_EHDR = struct.Struct("<16sHHIQQQIHHHHHH")
_SHDR = struct.Struct("<IIQQQQIIQQ")
_SYM = struct.Struct("<IBBHQQ")
_REL = struct.Struct("<QQ")


class ElfFile:
    """An ELF64 little-endian ET_REL object for EM_BPF: `sections`, `by_name`, `symbols`, `relocations`."""

    def __init__(self, data: bytes, path: str = "<bytes>"):
        self.path = path
        self.data = data
        if len(data) < _EHDR.size or data[:4] != b"\x7fELF":
            raise ElfError(f"{path}: not an ELF file")
        ident = data[:16]
        if ident[4] != ELFCLASS64:
            raise ElfError(f"{path}: not a 64-bit ELF (EI_CLASS={ident[4]})")
        if ident[5] != ELFDATA2LSB:
            raise ElfError(f"{path}: big-endian BPF objects are not supported (EI_DATA={ident[5]})")
        (_, e_type, e_machine, _, _, _, e_shoff, _, _, _, _, e_shentsize, e_shnum,
         e_shstrndx) = _EHDR.unpack_from(data)
        if e_machine != EM_BPF:
            raise ElfError(f"{path}: wrong machine {e_machine} (expected EM_BPF {EM_BPF}); compile with -target bpf")
        if e_type != ET_REL:
            raise ElfError(f"{path}: not a relocatable object (e_type={e_type})")
        if e_shentsize != _SHDR.size or e_shoff + e_shnum * _SHDR.size > len(data):
            raise ElfError(f"{path}: section header table at {e_shoff:#x} is out of the file")
        raw = [_SHDR.unpack_from(data, e_shoff + i * _SHDR.size) for i in range(e_shnum)]
        if not 0 < e_shstrndx < e_shnum:
            raise ElfError(f"{path}: bad section name table index {e_shstrndx}")
        shstr = self._bytes(raw[e_shstrndx], "section name table")
        self.sections: list[Section] = []
        for i, (name_off, typ, flags, _addr, off, size, link, info, align, entsize) in enumerate(raw):
            name = _cstr(shstr, name_off)
            body = b"" if typ in (ShType.NOBITS, ShType.NULL) else self._bytes(raw[i], f"section {name!r}")
            self.sections.append(Section(i, name, typ, flags, off, size, link, info, align, entsize, body))
        self.by_name = {s.name: s for s in self.sections if s.name}
        self.symbols = self._read_symbols()
        self.relocations = self._read_relocations()

    @classmethod
    def open(cls, path: str) -> "ElfFile":
        try:
            with open(path, "rb") as f:
                return cls(f.read(), path)
        except OSError as e:
            raise ElfError(f"{path}: {e.strerror}", e.errno) from None

    def _bytes(self, shdr: tuple, what: str) -> bytes:
        off, size = shdr[4], shdr[5]
        if off + size > len(self.data):
            raise ElfError(f"{self.path}: {what} (offset {off:#x}, {size} bytes) runs past the end of the file")
        return self.data[off:off + size]

    def _read_symbols(self) -> list[Symbol]:
        symtabs = [s for s in self.sections if s.type == ShType.SYMTAB]
        if not symtabs:
            raise ElfError(f"{self.path}: no .symtab section")
        st = symtabs[0]
        if not 0 < st.link < len(self.sections):
            raise ElfError(f"{self.path}: .symtab links to bad string table {st.link}")
        strtab = self.sections[st.link].data
        out = []
        for i in range(len(st.data) // _SYM.size):
            name_off, info, _other, shndx, value, size = _SYM.unpack_from(st.data, i * _SYM.size)
            out.append(Symbol(i, _cstr(strtab, name_off), value, size, info & 0xF, info >> 4, shndx))
        return out

    def _read_relocations(self) -> dict[int, list[Relocation]]:
        """REL sections by the index of the section they patch."""
        out: dict[int, list[Relocation]] = {}
        for s in self.sections:
            if s.type == ShType.RELA:
                raise ElfError(f"{self.path}: section {s.name!r}: RELA relocations are not used by BPF objects")
            if s.type != ShType.REL:
                continue
            if not 0 < s.info < len(self.sections):
                raise ElfError(f"{self.path}: section {s.name!r} relocates bad section index {s.info}")
            rels = []
            for i in range(len(s.data) // _REL.size):
                off, info = _REL.unpack_from(s.data, i * _REL.size)
                sym_idx, typ = info >> 32, info & 0xFFFFFFFF
                if sym_idx >= len(self.symbols):
                    raise ElfError(f"{self.path}: section {s.name!r} relocation #{i} at offset {off:#x}: bad "
                                   f"symbol index {sym_idx}")
                rels.append(Relocation(off, typ, self.symbols[sym_idx]))
            out.setdefault(s.info, []).extend(rels)
        return out

    def section(self, name: str) -> Section:
        try:
            return self.by_name[name]
        except KeyError:
            raise ElfError(f"{self.path}: missing section {name!r}") from None


def _cstr(table: bytes, off: int) -> str:
    end = table.find(b"\0", off)
    return table[off:end if end >= 0 else len(table)].decode(errors="replace")


__all__ = ["ElfFile", "Section", "Symbol", "Relocation", "RelocType", "ShType", "ShFlags", "SymType", "SymBind",
           "EM_BPF", "SHN_UNDEF", "SHN_ABS", "SHN_COMMON"]
