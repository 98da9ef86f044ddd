"""The special fields of a map value (the kernel's `btf_record`): where its BTF puts a bpf_spin_lock, bpf_timer, ...

verify() sees maps as MapSpecs. A spec whose value_type is a ctypes struct was described by BTF (an ELF object's
`.maps` definition, which the loader's collection path creates with btf_value_type_id), so its special fields are
known by their struct names, as btf_parse_fields finds them; a spec without one stands for a map created without
BTF, which has none (and cannot hold a bpf_spin_lock: the kernel refuses to lock in it).
"""
from __future__ import annotations

import ctypes
from functools import lru_cache
from typing import NamedTuple

#: struct names btf_parse_fields recognises -> btf_field_type_name()
SPECIAL_STRUCTS = {
    "bpf_spin_lock": "bpf_spin_lock", "bpf_timer": "bpf_timer", "bpf_wq": "bpf_wq",
    "bpf_list_head": "bpf_list_head", "bpf_rb_root": "bpf_rb_root", "bpf_refcount": "bpf_refcount",
}
_COMPOSITE = (ctypes.Structure, ctypes.Union)


class BtfField(NamedTuple):
    name: str  # btf_field_type_name: "bpf_spin_lock", ...
    offset: int
    size: int


def map_has_btf(spec) -> bool:
    """Whether the map's value is described by BTF (see the module docstring)."""
    vt = getattr(spec, "value_type", None)
    return isinstance(vt, type) and issubclass(vt, _COMPOSITE)


@lru_cache(maxsize=256)
def _fields_of(cls: type, base: int = 0, depth: int = 0) -> tuple[BtfField, ...]:
    out: list[BtfField] = []
    for entry in getattr(cls, "_fields_", ()):
        name, ftype = entry[0], entry[1]
        desc = getattr(cls, name)
        kind = SPECIAL_STRUCTS.get(getattr(ftype, "__name__", ""))
        if kind is not None:
            out.append(BtfField(kind, base + desc.offset, desc.size))
        elif isinstance(ftype, type) and issubclass(ftype, _COMPOSITE) and depth < 8:
            out.extend(_fields_of(ftype, base + desc.offset, depth + 1))
    return tuple(out)


def btf_record(spec) -> tuple[BtfField, ...]:
    """The special fields of the map's value, in declaration order (empty without BTF)."""
    return _fields_of(spec.value_type) if map_has_btf(spec) else ()


def spin_lock_off(spec) -> int | None:
    """rec->spin_lock_off: where the value's bpf_spin_lock is, or None."""
    return next((f.offset for f in btf_record(spec) if f.name == "bpf_spin_lock"), None)


__all__ = ["BtfField", "SPECIAL_STRUCTS", "map_has_btf", "btf_record", "spin_lock_off"]
