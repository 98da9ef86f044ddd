"""Writing new BTF: an append-only builder whose `add_*` return the new type id (the ELF writer's map definitions,
the func_info BTF of Python-built programs, ctypes types described as BTF)."""
from __future__ import annotations

import copy

from pyebpf.abi.btf import BTF_INT_SIGNED, BtfFuncLinkage, BtfKind, BtfVarLinkage
from pyebpf.btf.spec import Btf, BtfMember, BtfType


class BtfBuilder:
    """Append-only BTF writer: `add_*` return the new type id; `encode()` gives the blob."""

    def __init__(self) -> None:
        self.types: list[BtfType] = [BtfType(BtfKind.UNKN)]
        self._strings = bytearray(b"\0")
        self._str_index: dict[str, int] = {"": 0}

    def string(self, s: str) -> int:
        if s not in self._str_index:
            self._str_index[s] = len(self._strings)
            self._strings += s.encode() + b"\0"
        return self._str_index[s]

    def _add(self, t: BtfType) -> int:
        self.types.append(t)
        return len(self.types) - 1

    def add_int(self, name: str, size: int, signed: bool = False) -> int:
        enc = BTF_INT_SIGNED if signed else 0
        return self._add(BtfType(BtfKind.INT, self.string(name), 0, 0, size, int_data=(enc << 24) | (size * 8)))

    def add_int_encoded(self, name: str, size: int, encoding: int) -> int:
        """An INT with an explicit BTF_INT_* encoding (BTF_INT_BOOL for _Bool, BTF_INT_CHAR for char)."""
        return self._add(BtfType(BtfKind.INT, self.string(name), 0, 0, size, int_data=(encoding << 24) | (size * 8)))

    def add_float(self, name: str, size: int) -> int:
        return self._add(BtfType(BtfKind.FLOAT, self.string(name), 0, 0, size))

    def add_ptr(self, target: int) -> int:
        return self._add(BtfType(BtfKind.PTR, 0, 0, 0, target))

    def add_array(self, elem: int, index_type: int, nelems: int) -> int:
        return self._add(BtfType(BtfKind.ARRAY, 0, 0, 0, 0, array=(elem, index_type, nelems)))

    def add_struct(self, name: str, size: int, members: list[tuple]) -> int:
        """members: (name, type id, bit offset) or (name, type id, bit offset, bitfield size)."""
        ms = [BtfMember(self.string(m[0]), m[1], m[2], m[3] if len(m) > 3 else 0) for m in members]
        flag = int(any(m.bitfield_size for m in ms))
        return self._add(BtfType(BtfKind.STRUCT, self.string(name), len(ms), flag, size, members=ms))

    def add_union(self, name: str, size: int, members: list[tuple[str, int, int]]) -> int:
        """members: (name, type id, bit offset)."""
        ms = [BtfMember(self.string(n), t, off) for n, t, off in members]
        return self._add(BtfType(BtfKind.UNION, self.string(name), len(ms), 0, size, members=ms))

    def add_func_proto(self, ret: int, params: list[tuple[str, int]]) -> int:
        return self._add(BtfType(BtfKind.FUNC_PROTO, 0, len(params), 0, ret,
                                 members=[(self.string(n), t) for n, t in params]))

    def add_func(self, name: str, proto: int, linkage: BtfFuncLinkage = BtfFuncLinkage.GLOBAL) -> int:
        return self._add(BtfType(BtfKind.FUNC, self.string(name), int(linkage), 0, proto))

    def add_var(self, name: str, type_id: int, linkage: BtfVarLinkage = BtfVarLinkage.GLOBAL_ALLOCATED) -> int:
        return self._add(BtfType(BtfKind.VAR, self.string(name), 0, 0, type_id, linkage=int(linkage)))

    def add_datasec(self, name: str, size: int, vars: list[tuple[int, int, int]]) -> int:
        """vars: (var type id, offset, size)."""
        return self._add(BtfType(BtfKind.DATASEC, self.string(name), len(vars), 0, size,
                                 members=[list(v) for v in vars]))

    def build(self) -> Btf:
        """A Btf of the types so far (a deep copy: fixups on it do not change the builder)."""
        return Btf(copy.deepcopy(self.types), bytes(self._strings))

    def encode(self) -> bytes:
        return self.build().encode()


__all__ = ["BtfBuilder"]
