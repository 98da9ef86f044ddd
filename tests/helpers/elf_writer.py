"""A tiny ELF64 relocatable writer: just enough for llvm-objdump to disassemble our bytes.

The object has a null section, the code sections given (SHT_PROGBITS, SHF_ALLOC|SHF_EXECINSTR), a symbol table with
one STT_FUNC symbol per `symbols` entry, `.strtab` and `.shstrtab`. e_machine is EM_BPF (247). Only tests use it.
"""
from __future__ import annotations

import struct

EM_BPF = 247
ET_REL = 1
SHT_PROGBITS = 1
SHT_SYMTAB = 2
SHT_STRTAB = 3
SHF_ALLOC = 0x2
SHF_EXECINSTR = 0x4
STB_GLOBAL = 1
STT_FUNC = 2
_EHDR_SIZE = 64
_SHDR_SIZE = 64
_SYM_SIZE = 24


class _StrTab:
    def __init__(self) -> None:
        self.data = bytearray(b"\0")
        self.index: dict[str, int] = {"": 0}

    def add(self, name: str) -> int:
        if name not in self.index:
            self.index[name] = len(self.data)
            self.data += name.encode() + b"\0"
        return self.index[name]


def write_elf(sections: dict[str, bytes], symbols: dict[str, tuple[str, int]] | None = None,
              byteorder: str = "little") -> bytes:
    """ELF bytes holding `sections` (name -> code) and `symbols` (name -> (section, byte offset))."""
    e = "<" if byteorder == "little" else ">"
    shstr, strtab = _StrTab(), _StrTab()
    names = list(sections)
    # section indices: 0 null, 1..n code, n+1 symtab, n+2 strtab, n+3 shstrtab
    symtab_idx = len(names) + 1
    syms = [b"\0" * _SYM_SIZE]
    for sym, (sec, offset) in (symbols or {}).items():
        syms.append(struct.pack(e + "IBBHQQ", strtab.add(sym), (STB_GLOBAL << 4) | STT_FUNC, 0,
                                names.index(sec) + 1, offset, 0))
    body = bytearray()
    headers = [b"\0" * _SHDR_SIZE]

    def place(data: bytes, align: int = 8) -> int:
        while (_EHDR_SIZE + len(body)) % align:
            body.append(0)
        at = _EHDR_SIZE + len(body)
        body.extend(data)
        return at

    for name in names:
        at = place(sections[name])
        headers.append(struct.pack(e + "IIQQQQIIQQ", shstr.add(name), SHT_PROGBITS, SHF_ALLOC | SHF_EXECINSTR,
                                   0, at, len(sections[name]), 0, 0, 8, 0))
    symdata = b"".join(syms)
    at = place(symdata)
    headers.append(struct.pack(e + "IIQQQQIIQQ", shstr.add(".symtab"), SHT_SYMTAB, 0, 0, at, len(symdata),
                               symtab_idx + 1, 1, 8, _SYM_SIZE))
    at = place(bytes(strtab.data), 1)
    headers.append(struct.pack(e + "IIQQQQIIQQ", shstr.add(".strtab"), SHT_STRTAB, 0, 0, at, len(strtab.data),
                               0, 0, 1, 0))
    shstr_name = shstr.add(".shstrtab")
    at = place(bytes(shstr.data), 1)
    headers.append(struct.pack(e + "IIQQQQIIQQ", shstr_name, SHT_STRTAB, 0, 0, at, len(shstr.data), 0, 0, 1, 0))
    shoff = place(b"".join(headers))
    ident = b"\x7fELF" + bytes([2, 1 if byteorder == "little" else 2, 1, 0]) + b"\0" * 8
    ehdr = ident + struct.pack(e + "HHIQQQIHHHHHH", ET_REL, EM_BPF, 1, 0, 0, shoff, 0, _EHDR_SIZE, 0, 0,
                               _SHDR_SIZE, len(headers), len(headers) - 1)
    return ehdr + bytes(body)
