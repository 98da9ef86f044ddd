"""A collection spec into the kernel: `load_collection(spec, options) -> Collection` (cilium/ebpf's NewCollection).

The object's BTF is loaded once (DATASEC sizes already fixed by the spec); maps are created as libbpf creates them
(BTF key/value types, initial global data, frozen `.rodata`, pinned maps reused, inner maps before the maps of maps
that hold them, initial slots of maps of maps and program arrays filled); then every program (or `only` those
named) goes through `pyebpf.loader.program.load` with the collection's maps and BTF — the same path as
`load(spec.programs[name])`, so func_info/line_info (C source lines in verifier logs), load flags and attach BTF ids
come from the Program either way. Everything created is closed again if any step fails. Attaching is left to
`Collection.attach()` (SEC() names that carry their target) or the attach helpers.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from typing import Any, Mapping, Sequence

from pyebpf.abi.maps import MapSpec, MapType
from pyebpf.errors import ElfError, LoaderError
from pyebpf.loader import syscall as sc
from pyebpf.btf import BtfKind
from pyebpf.loader.elf_globals import GlobalVars
from pyebpf.loader.elf_spec import ElfSpec
from pyebpf.loader.fdguard import Closeable, FdHandle, FdScope
from pyebpf.loader.maps import KernelMap, create_map
from pyebpf.loader.program import DEFAULT_PIN_ROOT, KernelProgram, LoadOptions, load

@dataclass(frozen=True)
class CollectionOptions:
    """How to load a collection: the verifier log, program types for SEC() names we do not know
    (`{program: ProgType | "xdp"}`), `only` some programs, and where pinning="by_name" maps live."""

    log_level: int = 0
    log_size: int | None = None
    prog_types: Mapping[str, Any] = field(default_factory=dict)
    only: Sequence[str] | None = None
    pin_root: str = DEFAULT_PIN_ROOT


class Collection(Closeable):
    """Loaded programs and maps of one spec: `programs[name]` are `KernelProgram`s, `maps[name]` `KernelMap`s,
    `rodata`/`data`/`bss` the global variables in the kernel maps. `close()` (or the `with` block) releases every
    fd; a program or map kept on its own keeps the collection alive (its `collection` attribute)."""

    def __init__(self, spec: ElfSpec, programs: dict[str, KernelProgram], maps: dict[str, KernelMap],
                 btf_handle: FdHandle | None, warnings: list[str]):
        self.spec = spec
        self.programs = programs
        self.maps = maps
        self.warnings = warnings
        self._btf_handle = btf_handle

    def globals(self, section: str) -> GlobalVars:
        try:
            data = self.spec.data_sections[section]
        except KeyError:
            raise KeyError(f"no global data section {section!r} (have {sorted(self.spec.data_sections)})") from None
        return GlobalVars(self.spec, data, self.maps.get(data.map_name))

    @property
    def rodata(self) -> GlobalVars:
        return self.globals(".rodata")

    @property
    def data(self) -> GlobalVars:
        return self.globals(".data")

    @property
    def bss(self) -> GlobalVars:
        return self.globals(".bss")

    def attach(self, names: list[str] | None = None) -> list[Any]:
        """Attach every loaded program whose SEC() name says where (tracepoint/..., raw_tp/..., kprobe/...), like a
        libbpf skeleton's attach; programs without a target (xdp, socket, tc) are left for the caller. The
        attachments are owned by the programs and released by close()."""
        from pyebpf.loader.attach.table import auto_attachable

        done = []
        for name in names if names is not None else list(self.programs):
            prog = self.programs.get(name)
            if prog is None:
                raise ElfError(f"{self.spec.path}: program {name!r} is not loaded")
            program = self.spec.programs[name]
            if names is None and not auto_attachable(program):
                continue
            done.append(prog.attach())
        return done

    def close(self) -> None:
        for owner in [*self.programs.values(), *self.maps.values()]:
            try:
                owner.close()
            except Exception:  # noqa: BLE001 - release the rest
                pass
        self.programs, self.maps = {}, {}
        if self._btf_handle is not None:
            self._btf_handle.close()
            self._btf_handle = None

    def __repr__(self) -> str:
        return f"<Collection {self.spec.path} programs={list(self.programs)} maps={list(self.maps)}>"


def load_collection(spec: ElfSpec, options: CollectionOptions | None = None) -> Collection:
    """Create the spec's maps and load its programs; on failure everything made so far is closed and the spec is
    unchanged (it can be loaded again)."""
    options = options or CollectionOptions()
    warnings: list[str] = []
    with FdScope() as scope:
        btf_fd = 0
        btf_handle = None
        if spec.btf is not None:
            try:
                fd, _ = sc.btf_load(spec.btf.encode())
                btf_handle = scope.add(FdHandle(fd))
                btf_fd = fd
            except LoaderError as e:
                warnings.append(f".BTF not accepted by the kernel, loading without it: {e}")
        kmaps: dict[str, KernelMap] = {}
        outer = [k for k, s in spec.map_specs.items() if s.type in (MapType.ARRAY_OF_MAPS, MapType.HASH_OF_MAPS)]
        for key, mspec in spec.map_specs.items():  # inner maps before the maps of maps that hold them
            if key not in outer:
                kmaps[key] = scope.add(_create(spec, key, mspec, btf_fd, options.pin_root, warnings))
        for key in outer:
            slots = {i: t for i, (kind, t) in spec.map_init.get(key, {}).items() if kind == "map"}
            template = kmaps[next(iter(slots.values()))] if slots else None
            kmaps[key] = scope.add(_create(spec, key, spec.map_specs[key], btf_fd, options.pin_root, warnings,
                                           inner=template))
            for index, inner_name in slots.items():
                _set_slot(spec, key, kmaps[key], index, kmaps[inner_name].fd)
        names = list(options.only) if options.only is not None else list(spec.programs)
        loaded: dict[str, KernelProgram] = {}
        load_options = LoadOptions(maps=kmaps, log_level=options.log_level, log_size=options.log_size,
                                   pin_root=options.pin_root)
        for name in names:
            if name not in spec.programs:
                raise ElfError(f"{spec.path}: no program {name!r} (have {sorted(spec.programs)})")
            program = spec.programs[name]
            ptype = options.prog_types.get(name)
            if ptype is None and program.prog_type is None:
                raise ElfError(f"{spec.path}: program {name!r}: section {program.section!r} names no known program "
                               f"type; pass prog_types={{{name!r}: ...}}")
            # the collection's BTF, loaded once (none if the kernel refused it: no func_info/line_info then)
            program = replace(program, btf=btf_fd or None, func_info=program.func_info if btf_fd else [],
                              line_info=program.line_info if btf_fd else [])
            loaded[name] = scope.add(load(program, ptype, load_options))
            loaded[name].program = spec.programs[name]
        for key, slots in spec.map_init.items():
            for index, (kind, prog_name) in slots.items():
                if kind == "prog" and prog_name in loaded:
                    _set_slot(spec, key, kmaps[key], index, loaded[prog_name].fd)
        collection = Collection(spec, loaded, kmaps, btf_handle, warnings)
        # whoever keeps a program or a map keeps the collection (and so every shared map) alive with it
        for owner in [*loaded.values(), *kmaps.values()]:
            owner.collection = collection
            owner.elf_object = collection
        scope.keep()
    return collection


def _set_slot(spec: ElfSpec, key: str, kmap: KernelMap, index: int, fd: int) -> None:
    mspec = spec.map_specs[key]
    try:
        kmap.update_raw(index.to_bytes(mspec.key_size, "little"), fd.to_bytes(4, "little"))
    except LoaderError as e:
        raise ElfError(f"{spec.path}: setting slot {index} of map {key!r}: {e}", e.errno) from None


def _create(spec: ElfSpec, key: str, mspec: MapSpec, btf_fd: int, pin_root: str, warnings: list[str],
            inner: KernelMap | None = None) -> KernelMap:
    if mspec.pinning == "by_name":
        path = os.path.join(pin_root, mspec.name)
        if os.path.exists(path):
            with KernelMap.from_fd(sc.obj_get(path)) as pinned:  # its shape, read back from the kernel
                have = pinned.spec
            if (have.type, have.key_size, have.value_size, have.max_entries, have.flags) != \
                    (mspec.type, mspec.key_size, mspec.value_size, mspec.max_entries, mspec.flags):
                raise ElfError(f"{spec.path}: map {key!r}: the map pinned at {path} is {have.type.name} "
                               f"{have.key_size}/{have.value_size}/{have.max_entries} flags {have.flags:#x}, the "
                               f"object wants {mspec.type.name} {mspec.key_size}/{mspec.value_size}/"
                               f"{mspec.max_entries} flags {mspec.flags:#x}")
            return KernelMap.from_fd(sc.obj_get(path), mspec)  # reuse the pinned map, as libbpf does
    types = spec.map_btf.get(key)
    kw: dict[str, Any] = {"inner_map": inner} if inner is not None else {}
    if types is not None:
        kw.update(map_extra=types.map_extra, numa_node=types.numa_node)
    btf_kw: dict[str, Any] = {}
    if btf_fd and types is not None and (types.key_type_id or types.value_type_id):  # libbpf's rules applied
        btf_kw = dict(btf_fd=btf_fd, btf_key_type_id=types.key_type_id, btf_value_type_id=types.value_type_id)
    elif btf_fd and key in spec.data_sections and spec.btf is not None:
        ds = spec.btf.find(key, BtfKind.DATASEC)
        if ds is not None:
            btf_kw = dict(btf_fd=btf_fd, btf_key_type_id=0, btf_value_type_id=ds)
    try:
        m = create_map(mspec, **kw, **btf_kw)
    except LoaderError as e:
        if not btf_kw:
            raise ElfError(f"{spec.path}: creating map {key!r}: {e}", e.errno) from None
        try:  # the kernel may refuse the BTF description (old kernel, odd types): plain map then
            m = create_map(mspec, **kw)
        except LoaderError as e2:
            raise ElfError(f"{spec.path}: creating map {key!r}: {e2}", e2.errno) from None
        warnings.append(f"map {key!r} created without BTF: {e}")
    try:
        if key in spec.data_sections:
            data = spec.data_sections[key]
            image = data.image()
            if image is not None:  # an untouched .bss stays as the kernel made it: zeros
                m.update_raw(b"\0\0\0\0", image)
            if data.readonly:
                m.freeze()
        if mspec.pinning == "by_name":
            sc.obj_pin(m.fd, os.path.join(pin_root, mspec.name))
    except BaseException:
        m.close()
        raise
    return m


__all__ = ["load_collection", "Collection", "CollectionOptions"]
