"""Map definitions of a BPF object: BTF-defined maps in `.maps`, legacy `struct bpf_map_def` in `maps`, and the
initial slots of maps of maps / program arrays (`.values = { [i] = &x }`, relocations inside `.maps`).

BTF-defined maps are structs of pointer members: `__uint(name, N)` is `int (*name)[N]` (the number is the array
length), `__type(key, T)` is `T *key`, `__array(values, struct inner)` an array of pointers to the inner map's
definition. Key and value types become ctypes types (pyebpf.btf.ctypes_conv) so kernel maps read back typed.
"""
from __future__ import annotations

import os
import struct
from dataclasses import dataclass, replace
from typing import Any, Callable

from pyebpf.abi.btf import BtfVarLinkage
from pyebpf.abi.maps import MapSpec, MapType
from pyebpf.errors import ElfError
from pyebpf.system.cpus import num_possible_cpus
from pyebpf.btf import Btf, BtfKind
from pyebpf.isa.elf_reader import ElfFile, Section, SymType

MAPS_SECTION = ".maps"
LEGACY_MAPS_SECTION = "maps"
LIBBPF_PIN_BY_NAME = 1
U32_MAX = (1 << 32) - 1  # bpf_attr's key_size, value_size, max_entries, map_flags are __u32
_BPF_MAP_DEF = struct.Struct("<IIIII")  # type key_size value_size max_entries map_flags
_BPF_ELF_MAP_SIZE = 36  # iproute2's struct bpf_elf_map: + id pinning inner_id inner_idx


@dataclass(frozen=True)
class BtfMapTypes:
    """What BPF_MAP_CREATE takes beyond the MapSpec: BTF type ids of the key and value (0 when described by size
    only, or for map types libbpf creates without BTF), `map_extra` (bloom filter hash count) and `numa_node`."""

    key_type_id: int = 0
    value_type_id: int = 0
    map_extra: int = 0
    numa_node: int = 0


#: `__uint(name, N)` members of a BTF map definition libbpf knows (parse_btf_map_def); anything else is refused
_UINT_MEMBERS = frozenset({"type", "max_entries", "map_flags", "numa_node", "key_size", "value_size", "pinning",
                           "map_extra"})
_FD_VALUE_TYPES = frozenset({MapType.ARRAY_OF_MAPS, MapType.HASH_OF_MAPS, MapType.PROG_ARRAY})
#: map types libbpf creates without BTF key/value type ids (bpf_object__create_map): the kernel has no use for them
LIBBPF_NO_BTF_TYPES = frozenset({
    MapType.PERF_EVENT_ARRAY, MapType.CGROUP_ARRAY, MapType.STACK_TRACE, MapType.ARRAY_OF_MAPS, MapType.HASH_OF_MAPS,
    MapType.DEVMAP, MapType.DEVMAP_HASH, MapType.CPUMAP, MapType.XSKMAP, MapType.SOCKMAP, MapType.SOCKHASH,
    MapType.QUEUE, MapType.STACK})
RINGBUF_TYPES = frozenset({MapType.RINGBUF, MapType.USER_RINGBUF})


def _linkage_name(linkage: int) -> str:
    try:
        return BtfVarLinkage(linkage).name.lower()
    except ValueError:
        return f"unknown ({linkage})"


def libbpf_map_rules(spec: MapSpec, types: BtfMapTypes) -> tuple[MapSpec, BtfMapTypes]:
    """The map libbpf would create for a definition (bpf_object__init_maps, fill_map_from_def,
    map_set_def_max_entries, bpf_object__create_map):

    - a perf event array without max_entries gets one slot per possible CPU;
    - ring buffers get max_entries rounded up to a power-of-2 multiple of the page size (adjust_ringbuf_sz), and
      key/value size 0: the kernel takes no key or value for them, so a `__type(value, struct event)` that
      documents the records is dropped (libbpf 1.1 would pass its size and the kernel refuses the map);
    - the map types in LIBBPF_NO_BTF_TYPES (and ring buffers) are created without BTF key/value ids.
    The running system's facts (possible CPUs, page size) are read here, as CO-RE reads the running kernel's BTF."""
    if spec.type == MapType.PERF_EVENT_ARRAY and not spec.max_entries:
        spec = replace(spec, max_entries=num_possible_cpus())  # libbpf_num_possible_cpus
    if spec.type in RINGBUF_TYPES:
        spec = replace(spec, key_size=0, value_size=0, key_type=None, value_type=None,
                       max_entries=ringbuf_size(spec.max_entries))
    if spec.type in LIBBPF_NO_BTF_TYPES or spec.type in RINGBUF_TYPES:
        types = replace(types, key_type_id=0, value_type_id=0)
    if spec.inner_map is not None:
        spec = replace(spec, inner_map=libbpf_map_rules(spec.inner_map, BtfMapTypes())[0])
    return spec, types


def ringbuf_size(size: int) -> int:
    """libbpf's adjust_ringbuf_sz: the kernel wants a power-of-2 multiple of the page size; 0 stays 0 (an error the
    user should see), sizes that cannot be rounded within __u32 are left for the kernel to refuse."""
    page = os.sysconf("SC_PAGE_SIZE")
    if size == 0 or (size % page == 0 and ((size // page) & (size // page - 1)) == 0):
        return size
    mul = 1
    while mul * page <= U32_MAX:
        if mul * page > size:
            return mul * page
        mul <<= 1
    return size




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
            if var.kind != BtfKind.VAR or var.linkage != BtfVarLinkage.GLOBAL_ALLOCATED:
                linkage = _linkage_name(var.linkage) if var.kind == BtfKind.VAR else var.kind.name
                raise ElfError(f"{self.path}: map {name!r}: unsupported map linkage {linkage} (a map must be a "
                               "global, as libbpf requires)")
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

    def _btf_map_def(self, name: str, type_id: int, inner: bool = False) -> tuple[MapSpec, BtfMapTypes]:
        """Read `struct { __uint(type, ...); __type(key, ...); ... }` of a BTF-defined map, as libbpf's
        parse_btf_map_def does (unknown members refused, `values` last and only in maps of maps / program arrays),
        then apply libbpf's create-time rules (`libbpf_map_rules`)."""
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
        inner_spec: MapSpec | None = None
        for i, m in enumerate(t.members):
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
            elif mname == "values":  # __array(values, ...): maps of maps and program arrays
                if inner:
                    raise ElfError(f"{self.path}: map {name!r}: multi-level inner maps are not supported")
                if i != len(t.members) - 1:
                    raise ElfError(f"{self.path}: map {name!r}: 'values' must be the last member")
                self._values_offset[name] = m.bits_offset // 8
                if mt.kind != BtfKind.ARRAY or mt.array[2]:  # type: ignore[index]
                    raise ElfError(f"{self.path}: map {name!r}: 'values' must be a zero-sized array (__array)")
                elem = btf[btf.skip_modifiers(mt.array[0])]  # type: ignore[index]
                if elem.kind != BtfKind.PTR:
                    raise ElfError(f"{self.path}: map {name!r}: 'values' must be an array of pointers")
                target = btf.skip_modifiers(elem.size_type)
                if btf[target].kind == BtfKind.STRUCT:
                    inner_spec, _ = self._btf_map_def(f"{name}.inner", target, inner=True)
                elif btf[target].kind != BtfKind.FUNC_PROTO:
                    raise ElfError(f"{self.path}: map {name!r}: 'values' points to {btf.describe(target)}, neither "
                                   "a map definition nor a function")
                values["values"] = 1
            elif mname in _UINT_MEMBERS:
                if mt.kind != BtfKind.PTR or btf[btf.skip_modifiers(mt.size_type)].kind != BtfKind.ARRAY:
                    raise ElfError(f"{self.path}: map {name!r}: member {mname!r} must be __uint(...) "
                                   f"(a pointer to an array), got {btf.describe(btf.skip_modifiers(m.type))}")
                values[mname] = btf[btf.skip_modifiers(mt.size_type)].array[2]  # type: ignore[index]
            else:
                raise ElfError(f"{self.path}: map {name!r}: unknown member {mname!r} (libbpf knows "
                               f"{', '.join(sorted(_UINT_MEMBERS | {'key', 'value', 'values'}))})")
        if "type" not in values:
            raise ElfError(f"{self.path}: map {name!r} has no type")
        try:
            mtype = MapType(values["type"])
        except ValueError:
            raise ElfError(f"{self.path}: map {name!r}: unknown map type {values['type']}") from None
        if inner and "pinning" in values:
            raise ElfError(f"{self.path}: map {name!r}: an inner map definition cannot be pinned")
        if "values" in values and mtype not in _FD_VALUE_TYPES:
            raise ElfError(f"{self.path}: map {name!r}: 'values' needs a map of maps or a program array, not "
                           f"{mtype.name}")
        if key_size is None:
            key_size = values.get("key_size", 0)
        elif "key_size" in values and values["key_size"] != key_size:
            raise ElfError(f"{self.path}: map {name!r}: key_size {values['key_size']} conflicts with key type")
        if value_size is None:
            value_size = values.get("value_size", 0)
        elif "value_size" in values and values["value_size"] != value_size:
            raise ElfError(f"{self.path}: map {name!r}: value_size {values['value_size']} conflicts with value type")
        if "values" in values:
            if value_size not in (0, 4):
                raise ElfError(f"{self.path}: map {name!r}: value_size {value_size} conflicts with 'values' (4)")
            value_size = 4
        pinning = {0: None, LIBBPF_PIN_BY_NAME: "by_name"}.get(values.get("pinning", 0))
        for what, n in (("key_size", key_size), ("value_size", value_size),
                        ("max_entries", values.get("max_entries", 0)), ("map_flags", values.get("map_flags", 0))):
            if n > U32_MAX:
                raise ElfError(f"{self.path}: map {name!r}: {what} {n} does not fit bpf_attr's __u32")
        if values.get("pinning", 0) not in (0, LIBBPF_PIN_BY_NAME):
            raise ElfError(f"{self.path}: map {name!r}: unknown pinning {values['pinning']}")
        spec = MapSpec(name, mtype, key_size, value_size, values.get("max_entries", 0), values.get("map_flags", 0),
                       key_type=ctypes_by_member.get("key"), value_type=ctypes_by_member.get("value"),
                       inner_map=inner_spec, pinning=pinning)
        types = BtfMapTypes(key_id, value_id, values.get("map_extra", 0), values.get("numa_node", 0))
        return libbpf_map_rules(spec, types)

    def _read_legacy_maps(self, sec: Section) -> None:
        """`struct bpf_map_def SEC("maps")`, by the size of each definition (libbpf v1 no longer reads these; the
        layouts are the ones of the loaders that did):

        - 20 bytes: type, key_size, value_size, max_entries, map_flags (libbpf 0.x);
        - 24/28 bytes: + inner_map_idx, numa_node (the kernel tree's samples/bpf loader): a map of maps takes the map
          at that index of the section (in offset order) as its inner map;
        - 36 bytes: iproute2's struct bpf_elf_map (+ id, pinning, inner_id, inner_idx): a map of maps takes the map
          whose `id` is its `inner_id` as its inner map.
        """
        syms = symbols_in(self.elf, sec)
        if not syms:
            raise ElfError(f"{self.path}: section 'maps' has no map symbols")
        defs: list[tuple[str, tuple[int, ...]]] = []
        for i, sym in enumerate(syms):
            end = syms[i + 1].value if i + 1 < len(syms) else sec.size
            size = sym.size or (end - sym.value)
            raw = sec.data[sym.value:sym.value + size]
            if len(raw) < _BPF_MAP_DEF.size or len(raw) != size:
                raise ElfError(f"{self.path}: section 'maps' offset {sym.value}: map {sym.name!r} definition is "
                               f"{len(raw)} bytes, less than struct bpf_map_def")
            fields = struct.unpack_from(f"<{min(size, _BPF_ELF_MAP_SIZE) // 4}I", raw)
            defs.append((sym.name, fields))
            self._map_symbols[(sec.index, sym.value)] = sym.name
        specs: list[MapSpec] = []
        for name, fields in defs:
            mtype, ksize, vsize, max_entries, flags = fields[:5]
            try:
                specs.append(MapSpec(name, MapType(mtype), ksize, vsize, max_entries, flags))
            except ValueError:
                raise ElfError(f"{self.path}: map {name!r}: unknown map type {mtype}") from None
        ids = {fields[5]: i for i, (_, fields) in enumerate(defs) if len(fields) * 4 == _BPF_ELF_MAP_SIZE and fields[5]}
        for i, (name, fields) in enumerate(defs):
            spec = specs[i]
            numa_node = 0
            if spec.type in (MapType.ARRAY_OF_MAPS, MapType.HASH_OF_MAPS):
                if len(fields) * 4 == _BPF_ELF_MAP_SIZE:
                    inner = ids.get(fields[7])
                    if inner is None:
                        raise ElfError(f"{self.path}: map {name!r}: inner_id {fields[7]} names no map's id")
                elif len(fields) > 5:
                    inner = fields[5]
                    if inner >= len(specs) or inner == i:
                        raise ElfError(f"{self.path}: map {name!r}: inner_map_idx {inner} is not another map of "
                                       f"section 'maps' ({len(specs)} maps)")
                else:
                    raise ElfError(f"{self.path}: map {name!r}: a map of maps in section 'maps' needs an inner map "
                                   "(bpf_map_def's inner_map_idx)")
                spec = replace(spec, inner_map=specs[inner])
            if len(fields) in (6, 7) and len(fields) * 4 != _BPF_ELF_MAP_SIZE:
                numa_node = fields[6] if len(fields) == 7 else 0
            spec, types = libbpf_map_rules(spec, BtfMapTypes(numa_node=numa_node))
            self.map_specs[name] = spec
            self.map_btf[name] = types


__all__ = ["MapDefinitions", "BtfMapTypes", "symbols_in", "MAPS_SECTION", "LEGACY_MAPS_SECTION"]
