"""CO-RE relocations as a compiler records them, and the small local BTF an object carries for them.

A compiler that reads a kernel struct field puts the field's byte offset (taken from the BTF it compiles against)
into an instruction and records a `CoreAccess`: which instruction slot, which BTF and root type, and clang's access
string (`0`, then member or array indexes: "0:12:3"). Written into an object (`.BTF` + `.BTF.ext` core_relo, as
clang writes them), a loader (libbpf, or pyebpf.loader.core) recomputes the value against the target kernel's BTF,
so the program loads on a kernel whose struct layout differs.

The object does not carry the whole kernel type graph (task_struct alone pulls in thousands of types): `LocalTypes`
copies, per struct or union, only the members some relocation walks (names, bit offsets and the struct's size
kept), as `bpftool gen min_core_btf` does. Access strings are renumbered to the kept members; every value a
relocation computes on the local types equals the one it had on the full BTF.
"""
from __future__ import annotations

from dataclasses import dataclass, replace

from pyebpf.abi.btf import BtfKind
from pyebpf.btf.builder import BtfBuilder
from pyebpf.btf.ext import CoreReloKind
from pyebpf.btf.spec import Btf, BtfMember, BtfType

_COMPOSITE = (BtfKind.STRUCT, BtfKind.UNION)


@dataclass(frozen=True, eq=False)
class CoreAccess:
    """One relocated instruction: the value at `slot` is `kind` of the field `access` reaches from `type_id`."""

    slot: int
    btf: Btf
    type_id: int
    access: tuple[int, ...]
    kind: CoreReloKind = CoreReloKind.FIELD_BYTE_OFFSET

    def at(self, slot: int) -> "CoreAccess":
        return replace(self, slot=slot)

    @property
    def spec(self) -> str:
        return ":".join(map(str, self.access))


def bitfield_load(bit_offset: int, bit_size: int, type_size: int) -> tuple[int, int]:
    """(byte offset, byte size) of the smallest naturally aligned load, at least the member type's size, that covers
    a bitfield: what libbpf's FIELD_BYTE_OFFSET/FIELD_BYTE_SIZE give, and what a compiler reads it with. ValueError
    when it does not fit 8 bytes."""
    byte_sz = type_size
    byte_off = bit_offset // 8 // byte_sz * byte_sz
    while bit_offset + bit_size - byte_off * 8 > byte_sz * 8:
        if byte_sz >= 8:
            raise ValueError(f"bitfield at bit {bit_offset} does not fit an 8-byte load")
        byte_sz *= 2
        byte_off = bit_offset // 8 // byte_sz * byte_sz
    return byte_off, byte_sz


def bitfield_shifts(bit_offset: int, bit_size: int, byte_off: int) -> tuple[int, int]:
    """(left shift, right shift) that extract a bitfield from the 64-bit little-endian value of its load
    (FIELD_LSHIFT_U64, FIELD_RSHIFT_U64)."""
    return 64 - (bit_offset + bit_size - byte_off * 8), 64 - bit_size


class LocalTypes:
    """Builds the local BTF types a set of CoreAccesses refers to into a `BtfBuilder` (see the module doc)."""

    def __init__(self, builder: BtfBuilder):
        self.b = builder
        self._keep: dict[tuple[int, int], list[int]] = {}  # (btf identity, composite id) -> member indexes kept
        self._ids: dict[tuple[int, int], int] = {}  # (btf identity, type id) -> local id
        self._btfs: dict[int, Btf] = {}
        self._int: int | None = None

    def note(self, acc: CoreAccess) -> None:
        """Mark the members `acc` walks (call for every access before `relocation`)."""
        btf = acc.btf
        self._btfs[id(btf)] = btf
        tid = btf.skip_modifiers(acc.type_id)
        for idx in acc.access[1:]:
            t = btf[tid]
            if t.kind in _COMPOSITE:
                kept = self._keep.setdefault((id(btf), tid), [])
                if idx not in kept:
                    kept.append(idx)
                tid = btf.skip_modifiers(t.members[idx].type)
            elif t.kind == BtfKind.ARRAY:
                tid = btf.skip_modifiers(t.array[0])  # type: ignore[index]
            else:
                raise ValueError(f"CO-RE access {acc.spec} steps into {btf.describe(tid)}")

    def relocation(self, acc: CoreAccess) -> tuple[int, str]:
        """(local root type id, access string renumbered to the kept members)."""
        btf = acc.btf
        root = self.type_id(btf, acc.type_id)
        tid = btf.skip_modifiers(acc.type_id)
        out = [acc.access[0]]
        for idx in acc.access[1:]:
            t = btf[tid]
            if t.kind in _COMPOSITE:
                out.append(sorted(self._keep[(id(btf), tid)]).index(idx))
                tid = btf.skip_modifiers(t.members[idx].type)
            else:
                out.append(idx)
                tid = btf.skip_modifiers(t.array[0])  # type: ignore[index]
        return root, ":".join(map(str, out))

    def _index_type(self) -> int:
        if self._int is None:
            self._int = self.b.add_int("int", 4, signed=True)
        return self._int

    def type_id(self, btf: Btf, type_id: int) -> int:
        """The local copy of `type_id` (typedefs and qualifiers dropped, as CO-RE matching skips them)."""
        tid = btf.skip_modifiers(type_id)
        key = (id(btf), tid)
        if key in self._ids:
            return self._ids[key]
        t = btf[tid]
        name = btf.str_at(t.name_off)
        if t.kind in _COMPOSITE:
            local = self.b._add(BtfType(t.kind, self.b.string(name), 0, 0, t.size_type))
            self._ids[key] = local  # before the members: kernel types point back at themselves
            members = []
            for idx in sorted(self._keep.get(key, [])):
                m = t.members[idx]
                members.append(BtfMember(self.b.string(btf.str_at(m.name_off)), self.type_id(btf, m.type),
                                         m.bits_offset, m.bitfield_size))
            rec = self.b.types[local]
            rec.members, rec.vlen = members, len(members)
            rec.kind_flag = int(any(m.bitfield_size for m in members))
            return local
        if t.kind == BtfKind.PTR:
            target = btf.skip_modifiers(t.size_type)
            tt = btf[target] if target else None
            if tt is not None and tt.kind in _COMPOSITE + (BtfKind.INT, BtfKind.ENUM, BtfKind.ENUM64, BtfKind.PTR,
                                                            BtfKind.FWD):
                local = self.b._add(BtfType(BtfKind.PTR, 0, 0, 0, 0))
                self._ids[key] = local
                self.b.types[local].size_type = self.type_id(btf, target)
                return local
            local = self.b.add_ptr(0)  # functions, void: what CO-RE compares of a pointer is that it is one
        elif t.kind == BtfKind.ARRAY:
            elem, _, nelems = t.array  # type: ignore[misc]
            local = self.b.add_array(self.type_id(btf, elem), self._index_type(), nelems)
        elif t.kind in (BtfKind.INT, BtfKind.ENUM, BtfKind.ENUM64, BtfKind.FWD, BtfKind.FLOAT):
            local = self.b._add(BtfType(t.kind, self.b.string(name), t.vlen, t.kind_flag, t.size_type,
                                        members=[(self.b.string(btf.str_at(n)), v) for n, v in t.members],
                                        int_data=t.int_data))
        else:
            raise ValueError(f"CO-RE: no local copy for {btf.describe(tid)}")
        self._ids[key] = local
        return local


__all__ = ["CoreAccess", "LocalTypes", "bitfield_load", "bitfield_shifts"]
