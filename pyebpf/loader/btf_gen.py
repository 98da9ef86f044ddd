"""The smallest BTF that lets the kernel accept a program with subprograms: one FUNC per subprogram.

Helpers that take a callback (bpf_loop, bpf_for_each_map_elem, bpf_timer_set_callback, ...) and BPF_PSEUDO_FUNC
references make the verifier demand func_info ("missing btf func_info"), and func_info needs BTF. clang writes it
from debug info; a Python-built program has none, so we describe each subprogram as `static int name(void)`:
static linkage means the verifier does not check arguments against the prototype, exactly what we need.
"""
from __future__ import annotations

import struct
from dataclasses import dataclass
from enum import IntEnum
from typing import Iterable

from pyebpf.abi.opcodes import PseudoSrc
from pyebpf.isa.program import Program

BTF_MAGIC = 0xEB9F
BTF_VERSION = 1
BTF_HEADER_SIZE = 24


class BtfKind(IntEnum):
    """BTF_KIND_* (uapi linux/btf.h)."""

    UNKN = 0
    INT = 1
    PTR = 2
    ARRAY = 3
    STRUCT = 4
    UNION = 5
    ENUM = 6
    FWD = 7
    TYPEDEF = 8
    VOLATILE = 9
    CONST = 10
    RESTRICT = 11
    FUNC = 12
    FUNC_PROTO = 13
    VAR = 14
    DATASEC = 15
    FLOAT = 16
    DECL_TAG = 17
    TYPE_TAG = 18
    ENUM64 = 19


class BtfFuncLinkage(IntEnum):
    STATIC = 0
    GLOBAL = 1
    EXTERN = 2


BTF_INT_SIGNED = 1 << 0


def _info(kind: BtfKind, vlen: int = 0, kind_flag: int = 0) -> int:
    return (kind_flag << 31) | (int(kind) << 24) | (vlen & 0xFFFF)


class BtfBuilder:
    """Appends BTF types and strings; `blob()` is what BPF_BTF_LOAD takes. Type ids start at 1."""

    def __init__(self) -> None:
        self._types: list[bytes] = []
        self._strings = bytearray(b"\0")
        self._offsets: dict[str, int] = {"": 0}

    def string(self, s: str) -> int:
        off = self._offsets.get(s)
        if off is None:
            off = self._offsets[s] = len(self._strings)
            self._strings += s.encode() + b"\0"
        return off

    def _add(self, data: bytes) -> int:
        self._types.append(data)
        return len(self._types)

    def add_int(self, name: str, size: int, signed: bool = True) -> int:
        encoding = BTF_INT_SIGNED if signed else 0
        return self._add(struct.pack("<IIII", self.string(name), _info(BtfKind.INT), size,
                                     (encoding << 24) | (size * 8)))

    def add_func_proto(self, ret_type: int, params: Iterable[tuple[str, int]] = ()) -> int:
        params = list(params)
        data = struct.pack("<III", 0, _info(BtfKind.FUNC_PROTO, len(params)), ret_type)
        data += b"".join(struct.pack("<II", self.string(n), t) for n, t in params)
        return self._add(data)

    def add_func(self, name: str, proto: int, linkage: BtfFuncLinkage = BtfFuncLinkage.STATIC) -> int:
        return self._add(struct.pack("<III", self.string(name), _info(BtfKind.FUNC, linkage), proto))

    def blob(self) -> bytes:
        types = b"".join(self._types)
        strings = bytes(self._strings)
        header = struct.pack("<HBBIIIII", BTF_MAGIC, BTF_VERSION, 0, BTF_HEADER_SIZE, 0, len(types), len(types),
                             len(strings))
        return header + types + strings


@dataclass(frozen=True)
class FuncInfo:
    """One bpf_func_info record: the subprogram at `insn_off` (a slot) has BTF FUNC `type_id`."""

    insn_off: int
    type_id: int
    name: str


def subprogram_starts(program: Program) -> list[int]:
    """Slots where subprograms start, as the kernel's add_subprog() finds them: 0, every bpf-to-bpf call target
    and every BPF_PSEUDO_FUNC target."""
    starts = {0}
    for slot, insn in program.by_slot():
        if insn.is_pseudo_call or (insn.is_lddw and insn.src == PseudoSrc.FUNC):
            starts.add(slot + 1 + (insn.imm if insn.is_lddw else insn.jump_offset))
    return sorted(starts)


def needs_func_info(program: Program) -> bool:
    return any(insn.is_pseudo_call or (insn.is_lddw and insn.src == PseudoSrc.FUNC) for insn in program)


def _identifier(name: str) -> str:
    cleaned = "".join(c if c.isalnum() or c == "_" else "_" for c in name)
    return cleaned if cleaned and not cleaned[0].isdigit() else f"f_{cleaned}"


def func_btf(program: Program) -> tuple[bytes, list[FuncInfo]]:
    """BTF blob and func_info for every subprogram of `program` (main program first)."""
    names_by_slot: dict[int, str] = {}
    for label, slot in program.labels.items():
        names_by_slot.setdefault(slot, label)
    b = BtfBuilder()
    int_id = b.add_int("int", 4)
    proto = b.add_func_proto(int_id)
    infos: list[FuncInfo] = []
    used: set[str] = set()
    for slot in subprogram_starts(program):
        if slot == 0:
            name = program.name or names_by_slot.get(0) or "main"
        else:
            name = names_by_slot.get(slot) or f"sub_{slot}"
        name = _identifier(name)
        while name in used:
            name += "_"
        used.add(name)
        linkage = BtfFuncLinkage.GLOBAL if slot == 0 else BtfFuncLinkage.STATIC
        infos.append(FuncInfo(slot, b.add_func(name, proto, linkage), name))
    return b.blob(), infos


__all__ = ["BtfBuilder", "BtfKind", "BtfFuncLinkage", "FuncInfo", "func_btf", "subprogram_starts",
           "needs_func_info", "BTF_MAGIC"]
