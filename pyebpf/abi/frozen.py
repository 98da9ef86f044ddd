"""Hashable values for decoded map keys: a ctypes struct key becomes a named tuple, so `dict(m.items())` works.

ctypes objects are mutable and hash by identity (two reads of the same key are unequal). A key read back from a map
is turned into a value instead: a Structure into a named tuple of its fields (nested structs and arrays frozen the
same way), an array into a tuple, a char array into all its bytes, a union into its bytes. `thaw` turns such a named
tuple back into the bytes it was read from (char arrays whole, even past a NUL; padding between fields as zeros), so
`m[k]` finds every key iteration gave, on the VM and on the kernel alike (the map's Codec calls it).
"""
from __future__ import annotations

import ctypes
from collections import namedtuple
from typing import Any

_RECORDS: dict[type, type] = {}
"""ctypes Structure type -> its named tuple class, made once."""
_RECORD_CLASSES: set[type] = set()


def _record_class(struct_type: type) -> type:
    cls = _RECORDS.get(struct_type)
    if cls is None:
        names = [f[0] for f in struct_type._fields_]
        cls = _RECORDS[struct_type] = namedtuple(struct_type.__name__, names, rename=True)  # type: ignore[misc]
        _RECORD_CLASSES.add(cls)
    return cls


def _is_char_array(t: Any) -> bool:
    return isinstance(t, type) and issubclass(t, ctypes.Array) and t._type_ is ctypes.c_char


def frozen(value: Any) -> Any:
    """`value` with every ctypes object replaced by an equal-by-value, hashable one (see the module doc)."""
    if isinstance(value, ctypes.Structure):
        raw = bytes(value)
        fields = []
        for f in type(value)._fields_:
            name, ftype = f[0], f[1]
            if _is_char_array(ftype):  # getattr would cut at the first NUL
                desc = getattr(type(value), name)
                fields.append(raw[desc.offset:desc.offset + desc.size])
            else:
                fields.append(frozen(getattr(value, name)))
        return _record_class(type(value))(*fields)
    if isinstance(value, ctypes.Union):
        return bytes(value)
    if isinstance(value, ctypes.Array):
        return bytes(value) if _is_char_array(type(value)) else tuple(frozen(v) for v in value)
    if isinstance(value, ctypes._SimpleCData):
        return value.value
    return value


def is_record(value: Any) -> bool:
    """A named tuple `frozen` made from a struct."""
    return type(value) in _RECORD_CLASSES


def thaw(ctype: Any, value: Any) -> bytes:
    """The bytes of `value`, a frozen `ctype`: the bytes it was made from, char arrays whole (building the ctypes
    object instead would cut them at the first NUL); padding between fields is zero."""
    size = ctypes.sizeof(ctype)
    if issubclass(ctype, ctypes.Structure) and isinstance(value, tuple):
        buf = bytearray(size)
        for f, v in zip(ctype._fields_, value):
            name, ftype = f[0], f[1]
            if len(f) == 3:  # a bitfield: ctypes places its bits
                setattr(ctype.from_buffer(buf), name, v)
            else:
                desc = getattr(ctype, name)
                buf[desc.offset:desc.offset + desc.size] = thaw(ftype, v)
        return bytes(buf)
    if issubclass(ctype, ctypes.Array) and isinstance(value, (tuple, list)):
        return b"".join(thaw(ctype._type_, v) for v in value).ljust(size, b"\0")
    if isinstance(value, (bytes, bytearray)):
        return bytes(value).ljust(size, b"\0")
    return bytes(ctype(value))


__all__ = ["frozen", "thaw", "is_record"]
