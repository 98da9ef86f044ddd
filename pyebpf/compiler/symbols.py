"""How a front end recognises the objects a probe's source names: maps, intrinsics (helpers), types.

The user-facing objects live in `pyebpf.probe`; the compiler only duck-types them through these attributes, so it
does not import the layers above it:
* a map object has `__probe_map__` -> `MapInfo`
* an intrinsic function (pid, comm, printk, ...) has `__probe_intrinsic__` -> its name in `INTRINSICS`.
"""
from __future__ import annotations

import ctypes
from dataclasses import dataclass
from typing import Any

from pyebpf.abi.maps import MapSpec, MapType
from pyebpf.abi.uapi import MapCreateFlags
from pyebpf.compiler.types import IntType


def ctype_of(t: Any) -> Any:
    """The ctypes type of a key/value declaration (an IntType, a ctypes type), None for none."""
    if t is None:
        return None
    if isinstance(t, IntType):
        return t.ctype
    return t


@dataclass
class MapInfo:
    """A map as a probe declares it. `name` is filled from the module global that holds it when not given."""

    type: MapType
    key: Any
    value: Any
    max_entries: int
    flags: int = 0
    name: str | None = None
    display: str = ""
    """How user space shows it: "" (a table), "log2" (a power-of-two histogram: `h.record(v)` in the probe),
    "linear" (bpftrace's lhist: buckets of `lhist` = (lo, hi, step))."""
    lhist: tuple[int, int, int] | None = None
    keyed: bool = False
    """A histogram per key: the map key is a structure (key, bucket) and the probe calls `h.record(v, key)`."""

    @property
    def key_ctype(self) -> Any:
        return ctype_of(self.key)

    @property
    def value_ctype(self) -> Any:
        return ctype_of(self.value)

    def spec(self) -> MapSpec:
        if not self.name:
            raise ValueError("map has no name yet")
        return MapSpec.of(self.name, self.type, self.key_ctype if self.key is not None else 0,
                          self.value_ctype if self.value is not None else 0, self.max_entries, self.flags)


def rodata_spec(name: str, data: bytes) -> MapSpec:
    """A frozen one-element array holding constant data (format strings), as clang's .rodata."""
    return MapSpec(name, MapType.ARRAY, 4, max(len(data), 1), 1, MapCreateFlags.RDONLY_PROG,
                   initial=data or b"\0")


INTRINSICS = ("pid", "tid", "tgid", "uid", "gid", "comm", "ktime_ns", "cpu", "printk", "random", "current_task",
              "str", "kstr", "cgroup_id", "log2", "kptr", "loop")


def is_struct(t: Any) -> bool:
    return isinstance(t, type) and issubclass(t, (ctypes.Structure, ctypes.Union))


def is_array(t: Any) -> bool:
    return isinstance(t, type) and issubclass(t, ctypes.Array)


__all__ = ["MapInfo", "rodata_spec", "INTRINSICS", "ctype_of", "is_struct", "is_array"]
