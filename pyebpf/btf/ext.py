"""BTF.ext: the per-instruction records an object carries beside its BTF — func_info (which BTF FUNC starts where),
line_info (which source line an instruction comes from) and CO-RE relocations — grouped by ELF section.

One `FuncInfo` / `LineInfo` for every producer: the .BTF.ext parser here and the generated BTF of Python-built
programs (pyebpf.loader.btf_gen) both give them, and program loads take them as they are.
"""
from __future__ import annotations

import struct
from dataclasses import dataclass, field
from enum import IntEnum
from typing import NamedTuple

from pyebpf.abi.btf import BTF_MAGIC
from pyebpf.btf.spec import Btf
from pyebpf.errors import BtfError

BTF_EXT_HEADER = struct.Struct("<HBBIIIII")  # magic version flags hdr_len func_off func_len line_off line_len


class FuncInfo(NamedTuple):
    """struct bpf_func_info: the function starting at instruction slot `insn_off` has BTF FUNC `type_id`.

    The unit is the kernel's (instructions), whether the record came from an object's .BTF.ext (which counts bytes;
    BtfExt.parse divides) or was generated for a Python-built program.
    """

    insn_off: int
    type_id: int


class LineInfo(NamedTuple):
    """struct bpf_line_info: instruction slot `insn_off` comes from source line `line`:`column` of file
    `file_name_off`, whose text is at `line_off` (string offsets into the program's BTF)."""

    insn_off: int
    file_name_off: int
    line_off: int
    line_col: int

    @property
    def line(self) -> int:
        return self.line_col >> 10

    @property
    def column(self) -> int:
        return self.line_col & 0x3FF


class CoreReloKind(IntEnum):
    """enum bpf_core_relo_kind."""

    FIELD_BYTE_OFFSET = 0
    FIELD_BYTE_SIZE = 1
    FIELD_EXISTS = 2
    FIELD_SIGNED = 3
    FIELD_LSHIFT_U64 = 4
    FIELD_RSHIFT_U64 = 5
    TYPE_ID_LOCAL = 6
    TYPE_ID_TARGET = 7
    TYPE_EXISTS = 8
    TYPE_SIZE = 9
    ENUMVAL_EXISTS = 10
    ENUMVAL_VALUE = 11
    TYPE_MATCHES = 12


@dataclass(frozen=True)
class CoreRelo:
    """struct bpf_core_relo: unlike func/line info, `insn_off` counts bytes, as the uapi struct does."""

    insn_off: int  # byte offset in the ELF section
    type_id: int
    access_str_off: int
    kind: CoreReloKind


@dataclass
class BtfExt:
    """Records of .BTF.ext grouped by ELF section name."""

    func_info: dict[str, list[FuncInfo]] = field(default_factory=dict)
    line_info: dict[str, list[LineInfo]] = field(default_factory=dict)
    core_relos: dict[str, list[CoreRelo]] = field(default_factory=dict)
    func_info_rec_size: int = 8
    line_info_rec_size: int = 16

    @classmethod
    def parse(cls, blob: bytes, btf: Btf) -> "BtfExt":
        if len(blob) < BTF_EXT_HEADER.size:
            raise BtfError(f".BTF.ext: {len(blob)} bytes is too short for a header")
        magic, version, _flags, hdr_len, f_off, f_len, l_off, l_len = BTF_EXT_HEADER.unpack_from(blob)
        if magic != BTF_MAGIC:
            raise BtfError(f".BTF.ext: bad magic {magic:#x}")
        ext = cls()
        if f_len:
            ext.func_info_rec_size, recs = _ext_section(blob, hdr_len + f_off, f_len, btf, "func_info", 8)
            ext.func_info = {s: [FuncInfo(_slot(s, off, "func_info"), tid) for off, tid in
                                     (struct.unpack_from("<II", r) for r in rs)] for s, rs in recs.items()}
        if l_len:
            ext.line_info_rec_size, recs = _ext_section(blob, hdr_len + l_off, l_len, btf, "line_info", 16)
            ext.line_info = {s: [LineInfo(_slot(s, off, "line_info"), *rest) for off, *rest in
                                     (struct.unpack_from("<IIII", r) for r in rs)] for s, rs in recs.items()}
        if hdr_len >= 32:
            c_off, c_len = struct.unpack_from("<II", blob, 24)
            if c_len:
                _, recs = _ext_section(blob, hdr_len + c_off, c_len, btf, "core_relo", 16)
                out: dict[str, list[CoreRelo]] = {}
                for s, rs in recs.items():
                    lst = []
                    for r in rs:
                        off, tid, acc, kind = struct.unpack_from("<IIII", r)
                        try:
                            lst.append(CoreRelo(off, tid, acc, CoreReloKind(kind)))
                        except ValueError:
                            raise BtfError(f".BTF.ext: section {s!r}: unknown CO-RE relocation kind {kind} at "
                                           f"insn byte offset {off}") from None
                    out[s] = lst
                ext.core_relos = out
        return ext


def _slot(section: str, byte_off: int, what: str) -> int:
    if byte_off % 8:
        raise BtfError(f".BTF.ext: {what} of section {section!r}: insn offset {byte_off} is not a multiple of 8")
    return byte_off // 8


def _ext_section(blob: bytes, start: int, length: int, btf: Btf, what: str, min_rec: int
                 ) -> tuple[int, dict[str, list[bytes]]]:
    end = start + length
    if end > len(blob) or length < 4:
        raise BtfError(f".BTF.ext: {what} runs past the end")
    rec_size = struct.unpack_from("<I", blob, start)[0]
    if rec_size < min_rec:
        raise BtfError(f".BTF.ext: {what} record size {rec_size} < {min_rec}")
    pos = start + 4
    out: dict[str, list[bytes]] = {}
    while pos < end:
        if pos + 8 > end:
            raise BtfError(f".BTF.ext: {what} truncated at byte {pos}")
        sec_off, n = struct.unpack_from("<II", blob, pos)
        pos += 8
        if pos + n * rec_size > end:
            raise BtfError(f".BTF.ext: {what} of section {btf.str_at(sec_off)!r} runs past the end")
        out.setdefault(btf.str_at(sec_off), []).extend(blob[pos + i * rec_size:pos + (i + 1) * rec_size]
                                                       for i in range(n))
        pos += n * rec_size
    return rec_size, out


__all__ = ["BtfExt", "FuncInfo", "LineInfo", "CoreRelo", "CoreReloKind", "BTF_EXT_HEADER"]
