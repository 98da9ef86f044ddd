"""A BPF object in one value: `load_elf(path) -> ElfObject`, an `ElfSpec` that can load itself.

The layered API is `ElfSpec(path)` (pyebpf.loader.elf_spec: programs and maps as plain values, no bpf() calls) →
`load_collection(spec, CollectionOptions(...))` (pyebpf.loader.collection: a `Collection` of KernelPrograms and
KernelMaps) → links from `Collection.attach()` or the attach helpers. `ElfObject` keeps the one-object spelling
that scripts and the CLI use: before `obj.load()` it is the spec (`obj.programs`, `obj.maps` are MapSpecs,
`obj.rodata[...] = v`), after it `obj.loaded` / `obj.maps` are the collection's kernel objects and the globals
read and write the kernel maps. `close()` (or the `with` block) releases every fd.
"""
from __future__ import annotations

import os
from typing import Any, Mapping

from pyebpf.errors import ElfError
from pyebpf.loader.collection import Collection, CollectionOptions, load_collection
from pyebpf.loader.elf_globals import DataSection, GlobalVars
from pyebpf.loader.elf_spec import ElfSpec, Function
from pyebpf.loader.fdguard import Closeable
from pyebpf.loader.program import DEFAULT_PIN_ROOT


class ElfObject(ElfSpec, Closeable):
    """An ElfSpec plus, after `load()`, its Collection; see the module docstring."""

    def __init__(self, path: "str | os.PathLike[str] | bytes", *, constants: Mapping[str, Any] | None = None,
                 btf_custom_path: str | None = None, name: str | None = None, pin_root: str = DEFAULT_PIN_ROOT):
        self.collection: Collection | None = None
        self.pin_root = pin_root
        super().__init__(path, constants=constants, btf_custom_path=btf_custom_path, name=name)

    @property
    def loaded(self) -> dict[str, Any]:
        """KernelPrograms by name after load(), else empty."""
        return self.collection.programs if self.collection is not None else {}

    @property
    def maps(self) -> dict[str, Any]:
        """MapSpecs before load, KernelMaps after."""
        if self.collection is not None:
            return dict(self.collection.maps)
        return dict(self.map_specs)

    @property
    def warnings(self) -> list[str]:
        return self.collection.warnings if self.collection is not None else []

    def globals(self, section: str) -> GlobalVars:
        gv = super().globals(section)
        if self.collection is None:
            return gv
        return GlobalVars(self, self.data_sections[section], self.collection.maps.get(section))

    def load(self, *, log_level: int = 0, prog_types: Mapping[str, Any] | None = None,
             only: list[str] | None = None) -> "ElfObject":
        """Create maps, load BTF and every program (or `only` those named); returns self."""
        if self.collection is not None:
            raise ElfError(f"{self.path}: already loaded")
        options = CollectionOptions(log_level=log_level, prog_types=dict(prog_types or {}), only=only,
                                    pin_root=self.pin_root)
        self.collection = load_collection(self, options)
        for owner in [*self.collection.programs.values(), *self.collection.maps.values()]:
            owner.elf_object = self  # whoever keeps a program or map keeps the object alive
        return self

    def attach(self, names: list[str] | None = None) -> list[Any]:
        """Attach the programs whose SEC() names say where (see Collection.attach)."""
        if self.collection is None:
            raise ElfError(f"{self.path}: load() before attach()")
        return self.collection.attach(names)

    def close(self) -> None:
        if self.collection is not None:
            self.collection.close()
            self.collection = None

    def __repr__(self) -> str:
        state = "loaded" if self.collection is not None else "not loaded"
        return f"<ElfObject {self.path} programs={list(self.programs)} maps={list(self.map_specs)} {state}>"


def load_elf(path: "str | os.PathLike[str] | bytes", *, constants: Mapping[str, Any] | None = None,
             btf_custom_path: str | None = None, load: bool = False, **load_kw: Any) -> ElfObject:
    """Parse a BPF ELF object — a path, or the object's bytes — (and load it into the kernel when `load=True`)."""
    obj = ElfObject(path, constants=constants, btf_custom_path=btf_custom_path)
    if load:
        try:
            obj.load(**load_kw)
        except BaseException:
            obj.close()
            raise
    return obj


__all__ = ["load_elf", "ElfObject", "ElfSpec", "GlobalVars", "DataSection", "Function"]
