"""Map definitions of a BPF object: BTF-defined maps in `.maps`, legacy `struct bpf_map_def` in `maps`, and the
initial slots of maps of maps / program arrays (`.values = { [i] = &x }`, relocations inside `.maps`).

BTF-defined maps are structs of pointer members: `__uint(name, N)` is `int (*name)[N]` (the number is the array
length), `__type(key, T)` is `T *key`, `__array(values, struct inner)` an array of pointers to the inner map's
definition. Key and value types become ctypes types (pyebpf.loader.btf_ctypes) so kernel maps read back typed.
"""
from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Any, Callable

from pyebpf.abi.maps import MapSpec, MapType
from pyebpf.errors import ElfError
from pyebpf.loader.btf import Btf, BtfKind
from pyebpf.isa.elf_reader import ElfFile, Section, SymType

MAPS_SECTION = ".maps"
LEGACY_MAPS_SECTION = "maps"
LIBBPF_PIN_BY_NAME = 1
U32_MAX = (1 << 32) - 1  # bpf_attr's key_size, value_size, max_entries, map_flags are __u32
_BPF_MAP_DEF = struct.Struct("<IIIII")  # type key_size value_size max_entries map_flags


@dataclass(frozen=True)
class BtfMapTypes:
    """BTF type ids of a map's key and value (0 when described by size only)."""

    key_type_id: int = 0
    value_type_id: int = 0


def symbols_in(elf: ElfFile, sec: Section) -> list:
    """Named data symbols of a section, by offset."""
    return sorted((s for s in elf.symbols if s.shndx == sec.index and s.type in (SymType.OBJECT, SymType.NOTYPE)
                   and s.name), key=lambda s: s.value)


class MapDefinitions:
    """Everything an object says about its maps: `specs`, `btf_types`, `symbols` ((section, offset) -> name) and
    `init` (map -> {slot: ("map" | "prog", name)})."""

    def __init__(self, elf: ElfFile, btf: Btf | None, path: str, ctype_of: Callable[[int], Any]):
        self.elf, self.btf, self.path = elf, btf, path
        self._ctype = ctype_of
        self.map_specs: dict[str, MapSpec] = {}
        self.map_btf: dict[str, BtfMapTypes] = {}
        self._map_symbols: dict[tuple[int, int], str] = {}
        self._map_extent: dict[str, tuple[int, int]] = {}
        self._values_offset: dict[str, int] = {}
        self.map_init: dict[str, dict[int, tuple[str, str]]] = {}
        self._read()

    @property
    def symbols(self) -> dict[tuple[int, int], str]:
        return self._map_symbols

    def _read(self) -> None:
        sec = self.elf.by_name.get(MAPS_SECTION)
        if sec is not None:
            self._read_btf_maps(sec)
            self._read_map_inits(sec)
        legacy = self.elf.by_name.get(LEGACY_MAPS_SECTION)
        if legacy is not None:
            self._read_legacy_maps(legacy)

    def _read_btf_maps(self, sec: Section) -> None:
        if self.btf is None:
            raise ElfError(f"{self.path}: section '.maps' needs .BTF to describe its maps (compile with -g)")
        datasec = self.btf.find(MAPS_SECTION, BtfKind.DATASEC)
        if datasec is None:
            raise ElfError(f"{self.path}: .BTF has no DATASEC '.maps'")
        by_offset = {s.value: s for s in symbols_in(self.elf, sec)}
        for var_id, offset, _size in self.btf[datasec].members:
            var = self.btf[var_id]
            name = self.btf.str_at(var.name_off)
            spec, types = self._btf_map_def(name, var.size_type)
            self.map_specs[name] = spec
            self.map_btf[name] = types
            sym = by_offset.get(offset)
            self._map_symbols[(sec.index, offset)] = name
            self._map_extent[name] = (offset, _size)
            if sym is not None and sym.name != name:
                raise ElfError(f"{self.path}: .maps offset {offset}: symbol {sym.name!r} but BTF says {name!r}")

    def _read_map_inits(self, sec: Section) -> None:
        """`.values = { [i] = &inner_map }` / `{ [i] = &prog }`: R_BPF_64_ABS64 relocations inside .maps."""
        for rel in self.elf.relocations.get(sec.index, []):
            where = f"section '.maps' offset {rel.offset:#x}"
            owner = next((n for n, (off, size) in self._map_extent.items() if off <= rel.offset < off + size), None)
            if owner is None or owner not in self._values_offset:
                raise ElfError(f"{self.path}: {where}: relocation outside any map's `values`")
            rel_off = rel.offset - self._map_extent[owner][0] - self._values_offset[owner]
            if rel_off < 0 or rel_off % 8:
                raise ElfError(f"{self.path}: {where}: relocation is not on a `values` slot of map {owner!r}")
            index = rel_off // 8
            spec = self.map_specs[owner]
            if index >= spec.max_entries:
                raise ElfError(f"{self.path}: {where}: `values` index {index} >= max_entries of {owner!r}")
            sym = rel.symbol
            if sym.shndx == sec.index:
                target = self._map_symbols.get((sec.index, sym.value))
                kind = "map"
                if spec.type not in (MapType.ARRAY_OF_MAPS, MapType.HASH_OF_MAPS) or target is None:
                    raise ElfError(f"{self.path}: {where}: map {owner!r} ({spec.type.name}) cannot hold map "
                                   f"{sym.name!r}")
            elif 0 < sym.shndx < len(self.elf.sections) and self.elf.sections[sym.shndx].is_exec \
                    and sym.type == SymType.FUNC:
                target, kind = sym.name, "prog"
                if spec.type != MapType.PROG_ARRAY:
                    raise ElfError(f"{self.path}: {where}: map {owner!r} ({spec.type.name}) cannot hold program "
                                   f"{sym.name!r}")
            else:
                raise ElfError(f"{self.path}: {where}: `values` of {owner!r} refers to {sym.name!r}, neither a map "
                               "nor a program")
            self.map_init.setdefault(owner, {})[index] = (kind, target)

    def _btf_map_def(self, name: str, type_id: int) -> tuple[MapSpec, BtfMapTypes]:
        """Read `struct { __uint(type, ...); __type(key, ...); ... }` of a BTF-defined map."""
        btf = self.btf
        assert btf is not None
        tid = btf.skip_modifiers(type_id)
        t = btf[tid]
        if t.kind != BtfKind.STRUCT:
            raise ElfError(f"{self.path}: map {name!r}: definition is {btf.describe(tid)}, expected a struct")
        values: dict[str, int] = {}
        ctypes_by_member: dict[str, Any] = {}
        key_size = value_size = None
        key_id = value_id = 0
        inner: MapSpec | None = None
        for m in t.members:
            mname = btf.str_at(m.name_off)
            mt = btf[btf.skip_modifiers(m.type)]
            if mname in ("key", "value"):
                if mt.kind != BtfKind.PTR:
                    raise ElfError(f"{self.path}: map {name!r}: member {mname!r} must be a pointer (__type)")
                pointee = mt.size_type
                size = btf.size_of(pointee)
                if mname == "key":
                    key_size, key_id = size, pointee
                else:
                    value_size, value_id = size, pointee
                ctypes_by_member[mname] = self._ctype(pointee)
            elif mname == "values":  # __array(values, struct inner): map in map (or prog array init)
                self._values_offset[name] = m.bits_offset // 8
                if mt.kind != BtfKind.ARRAY:
                    raise ElfError(f"{self.path}: map {name!r}: 'values' must be an array")
                elem = btf[btf.skip_modifiers(mt.array[0])]  # type: ignore[index]
                if elem.kind == BtfKind.PTR:
                    target = btf.skip_modifiers(elem.size_type)
                    if btf[target].kind == BtfKind.STRUCT:
                        inner, _ = self._btf_map_def(f"{name}.inner", target)
            else:
                if mt.kind != BtfKind.PTR or btf[btf.skip_modifiers(mt.size_type)].kind != BtfKind.ARRAY:
                    raise ElfError(f"{self.path}: map {name!r}: member {mname!r} must be __uint(...) "
                                   f"(a pointer to an array), got {btf.describe(btf.skip_modifiers(m.type))}")
                values[mname] = btf[btf.skip_modifiers(mt.size_type)].array[2]  # type: ignore[index]
        if "type" not in values:
            raise ElfError(f"{self.path}: map {name!r} has no type")
        try:
            mtype = MapType(values["type"])
        except ValueError:
            raise ElfError(f"{self.path}: map {name!r}: unknown map type {values['type']}") from None
        if key_size is None:
            key_size = values.get("key_size", 0)
        elif "key_size" in values and values["key_size"] != key_size:
            raise ElfError(f"{self.path}: map {name!r}: key_size {values['key_size']} conflicts with key type")
        if value_size is None:
            value_size = values.get("value_size", 0)
        elif "value_size" in values and values["value_size"] != value_size:
            raise ElfError(f"{self.path}: map {name!r}: value_size {values['value_size']} conflicts with value type")
        if mtype in (MapType.ARRAY_OF_MAPS, MapType.HASH_OF_MAPS, MapType.PROG_ARRAY) and not value_size:
            value_size = 4
        for what, n in (("key_size", key_size), ("value_size", value_size),
                        ("max_entries", values.get("max_entries", 0)), ("map_flags", values.get("map_flags", 0))):
            if n > U32_MAX:
                raise ElfError(f"{self.path}: map {name!r}: {what} {n} does not fit bpf_attr's __u32")
        pinning = {0: None, LIBBPF_PIN_BY_NAME: "by_name"}.get(values.get("pinning", 0))
        if values.get("pinning", 0) not in (0, LIBBPF_PIN_BY_NAME):
            raise ElfError(f"{self.path}: map {name!r}: unknown pinning {values['pinning']}")
        spec = MapSpec(name, mtype, key_size, value_size, values.get("max_entries", 0), values.get("map_flags", 0),
                       key_type=ctypes_by_member.get("key"), value_type=ctypes_by_member.get("value"),
                       inner_map=inner, pinning=pinning)
        return spec, BtfMapTypes(key_id, value_id)

    def _read_legacy_maps(self, sec: Section) -> None:
        syms = symbols_in(self.elf, sec)
        if not syms:
            raise ElfError(f"{self.path}: section 'maps' has no map symbols")
        for i, sym in enumerate(syms):
            size = sym.size or ((syms[i + 1].value if i + 1 < len(syms) else sec.size) - sym.value)
            raw = sec.data[sym.value:sym.value + size]
            if len(raw) < _BPF_MAP_DEF.size:
                raise ElfError(f"{self.path}: section 'maps' offset {sym.value}: map {sym.name!r} definition is "
                               f"{len(raw)} bytes, less than struct bpf_map_def")
            mtype, ksize, vsize, max_entries, flags = _BPF_MAP_DEF.unpack_from(raw)
            try:
                spec = MapSpec(sym.name, MapType(mtype), ksize, vsize, max_entries, flags)
            except ValueError:
                raise ElfError(f"{self.path}: map {sym.name!r}: unknown map type {mtype}") from None
            self.map_specs[sym.name] = spec
            self._map_symbols[(sec.index, sym.value)] = sym.name


__all__ = ["MapDefinitions", "BtfMapTypes", "symbols_in", "MAPS_SECTION", "LEGACY_MAPS_SECTION"]
