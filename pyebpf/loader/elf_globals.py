"""Global variables of a BPF object (`.data`, `.bss`, `.rodata*`, `.kconfig`) by name.

Each global data section is one single-value array map; `DataSection` holds its initial bytes and where each
variable sits (from BTF DATASEC/VAR, or ELF symbols without BTF). `GlobalVars` is the dict-like face:
`spec.rodata["target_pid"] = 1234` on the spec before load, `collection.bss["hits"]` after (the kernel map).
"""
from __future__ import annotations

import ctypes
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Iterator

from pyebpf.errors import ElfError

if TYPE_CHECKING:  # pragma: no cover
    from pyebpf.loader.elf_spec import ElfSpec


@dataclass
class DataSection:
    """A global data section turned into a one-element array map.

    `init` is None while a NOBITS section (.bss) is still all zeros: its size comes from the section header, not
    from bytes in the file, so nothing is allocated for it until a variable is set (a hostile object may claim
    gigabytes; the kernel, which zero-fills array maps, then decides whether it can have them).
    """

    section: str
    map_name: str
    init: bytearray | None
    readonly: bool
    variables: dict[str, tuple[int, int, int]]  # name -> (offset, size, btf type id or 0)
    size: int = -1

    def __post_init__(self) -> None:
        if self.size < 0:
            self.size = len(self.init) if self.init is not None else 0

    def image(self) -> bytes | None:
        """The initial bytes, or None for a section still all zeros."""
        return bytes(self.init) if self.init is not None else None

    def read(self, off: int, size: int) -> bytes:
        if self.init is None:
            return bytes(min(size, max(0, self.size - off)))
        return bytes(self.init[off:off + size])

    def write(self, off: int, raw: bytes) -> None:
        if self.init is None:
            self.init = bytearray(self.size)
        self.init[off:off + len(raw)] = raw



class GlobalVars:
    """Dict-like access to the variables of one global data section by name.

    Without a kernel map it edits the spec's initial value (the only time `.rodata` may change); with one (after
    load), reads and writes go to the kernel map (refused for `.rodata`, which is frozen).
    """

    def __init__(self, spec: "ElfSpec", data: DataSection, kmap: Any = None):
        self._obj = spec
        self._data = data
        self._kmap = kmap

    def _var(self, name: str) -> tuple[int, int, int]:
        try:
            return self._data.variables[name]
        except KeyError:
            raise KeyError(f"{self._data.section} has no variable {name!r} "
                           f"(known: {sorted(self._data.variables)})") from None

    def _read(self, off: int, size: int) -> bytes:
        kmap = self._kmap
        raw = kmap.lookup_raw(b"\0\0\0\0") if kmap is not None else None
        if raw is None:
            return self._data.read(off, size)
        return bytes(raw[off:off + size])

    def __getitem__(self, name: str) -> Any:
        """ints for scalars; a ctypes Structure for structs; bytes for char/byte arrays; a list for other arrays."""
        off, size, tid = self._var(name)
        raw = self._read(off, size)
        ctype = self._obj._ctype(tid) if tid else None
        if ctype is None or ctype is bytes:
            if size in (1, 2, 4, 8) and ctype is None:
                return int.from_bytes(raw, "little", signed=self._obj._is_signed(tid))
            return raw
        value = ctype.from_buffer_copy(raw)
        if isinstance(value, ctypes.Array):
            return list(value)
        return value.value if isinstance(value, ctypes._SimpleCData) else value

    def __setitem__(self, name: str, value: Any) -> None:
        off, size, _ = self._var(name)
        if isinstance(value, (bytes, bytearray)):
            raw = bytes(value)
            if len(raw) > size:
                raise ValueError(f"{name}: {len(raw)} bytes do not fit its {size} bytes")
            raw = raw.ljust(size, b"\0")
        elif isinstance(value, int):
            raw = (value & ((1 << (8 * size)) - 1)).to_bytes(size, "little")
        else:
            raw = bytes(value)
            if len(raw) != size:
                raise ValueError(f"{name}: {len(raw)} bytes for a {size}-byte variable")
        kmap = self._kmap
        if kmap is None:
            self._data.write(off, raw)
            self._obj._sync_initial(self._data.map_name)
            return
        if self._data.readonly:
            raise ElfError(f"{self._data.section} is frozen after load; set {name!r} on the spec before loading")
        buf = bytearray(kmap.lookup_raw(b"\0\0\0\0") or bytes(self._data.size))
        buf[off:off + size] = raw
        kmap.update_raw(b"\0\0\0\0", bytes(buf))

    def __contains__(self, name: object) -> bool:
        return name in self._data.variables

    def __iter__(self) -> Iterator[str]:
        return iter(self._data.variables)

    def keys(self) -> list[str]:
        return list(self._data.variables)

    def __repr__(self) -> str:
        return f"<GlobalVars {self._data.section} {sorted(self._data.variables)}>"


__all__ = ["DataSection", "GlobalVars"]
