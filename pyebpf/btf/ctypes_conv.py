"""BTF types <-> ctypes types, so map keys and values read from a BPF object come back as typed Python values.

`to_ctypes(btf, type_id)` turns a BTF type into a ctypes type with the exact same size and field offsets (explicit
padding, `_pack_ = 1`), e.g. `struct datarec { __u64 packets; __u64 bytes; }` becomes a Structure with `.packets`
and `.bytes`. Types ctypes cannot express faithfully (bitfields, flexible arrays, functions) become `c_uint8 * size`.
`from_ctypes(builder, ctype)` goes the other way for the ELF writer (`__type(key, ...)` in `.maps`).
"""
from __future__ import annotations

import ctypes
from typing import Any

from pyebpf.abi.btf import BTF_INT_BOOL, BTF_INT_SIGNED, BtfKind
from pyebpf.btf.builder import BtfBuilder
from pyebpf.btf.spec import Btf
_UNSIGNED = {1: ctypes.c_uint8, 2: ctypes.c_uint16, 4: ctypes.c_uint32, 8: ctypes.c_uint64}
_SIGNED = {1: ctypes.c_int8, 2: ctypes.c_int16, 4: ctypes.c_int32, 8: ctypes.c_int64}
_FLOATS = {4: ctypes.c_float, 8: ctypes.c_double}


class _Opaque(Exception):
    """This type has no faithful ctypes form."""


def to_ctypes(btf: Btf, type_id: int) -> Any:
    """A ctypes type laid out exactly like BTF type `type_id` (raw bytes for what ctypes cannot express)."""
    type_id = btf.skip_modifiers(type_id)
    try:
        return _convert(btf, type_id, 0)
    except _Opaque:
        return ctypes.c_uint8 * btf.size_of(type_id)


def _convert(btf: Btf, tid: int, depth: int) -> Any:
    if depth > 32:
        raise _Opaque()
    tid = btf.skip_modifiers(tid)
    t = btf[tid]
    if t.kind == BtfKind.INT:
        size = t.size_type
        if t.int_bits != size * 8 or t.int_offset or size not in _UNSIGNED:
            raise _Opaque()
        if t.int_encoding & BTF_INT_BOOL and size == 1:
            return ctypes.c_bool
        return (_SIGNED if t.int_encoding & BTF_INT_SIGNED else _UNSIGNED)[size]
    if t.kind in (BtfKind.ENUM, BtfKind.ENUM64):
        table = _SIGNED if t.kind_flag else _UNSIGNED
        if t.size_type not in table:
            raise _Opaque()
        return table[t.size_type]
    if t.kind == BtfKind.PTR:
        return ctypes.c_uint64
    if t.kind == BtfKind.FLOAT and t.size_type in _FLOATS:
        return _FLOATS[t.size_type]
    if t.kind == BtfKind.ARRAY:
        elem, _, nelems = t.array  # type: ignore[misc]
        if nelems == 0:
            raise _Opaque()
        return _convert(btf, elem, depth + 1) * nelems
    if t.kind in (BtfKind.STRUCT, BtfKind.UNION):
        return _composite(btf, tid, depth)
    raise _Opaque()


def _composite(btf: Btf, tid: int, depth: int) -> Any:
    t = btf[tid]
    is_union = t.kind == BtfKind.UNION
    fields: list[tuple[str, Any]] = []
    pos = 0
    used: set[str] = set()
    for i, m in enumerate(t.members):
        if m.bitfield_size or m.bits_offset % 8:
            raise _Opaque()
        name = btf.str_at(m.name_off) or f"_anon{i}"
        if name in used or name.startswith("_pad"):
            raise _Opaque()
        used.add(name)
        ctype = _convert(btf, m.type, depth + 1)
        off = m.bits_offset // 8
        if is_union:
            if off:
                raise _Opaque()
        else:
            if off < pos:
                raise _Opaque()
            if off > pos:
                fields.append((f"_pad{pos}", ctypes.c_uint8 * (off - pos)))
            pos = off + ctypes.sizeof(ctype)
        fields.append((name, ctype))
    size = t.size_type
    if not is_union and pos < size:
        fields.append((f"_pad{pos}", ctypes.c_uint8 * (size - pos)))
    base = ctypes.Union if is_union else ctypes.Structure
    name = btf.name(tid) or f"anon_{tid}"
    cls = type(name, (base,), {"_pack_": 1, "_fields_": fields})
    if ctypes.sizeof(cls) != size:
        raise _Opaque()
    return cls


# ---- ctypes -> BTF (for the writer) ------------------------------------------------------------------------------

def from_ctypes(b: BtfBuilder, ctype: Any, cache: dict | None = None) -> int:
    """A BTF type id in `b` for a ctypes type (ints, floats, bool, arrays, structures, unions)."""
    cache = {} if cache is None else cache
    if ctype in cache:
        return cache[ctype]
    size = ctypes.sizeof(ctype)
    if isinstance(ctype, type) and issubclass(ctype, ctypes.Array):
        elem = from_ctypes(b, ctype._type_, cache)
        index = from_ctypes(b, ctypes.c_uint32, cache)
        tid = b.add_array(elem, index, ctype._length_)
    elif isinstance(ctype, type) and issubclass(ctype, (ctypes.Structure, ctypes.Union)):
        members = []
        for field in ctype._fields_:
            if len(field) > 2:
                raise TypeError(f"{ctype.__name__}.{field[0]}: bitfields are not described in BTF by pyebpf")
            fname, ftype = field[0], field[1]
            if fname.startswith("_pad") and issubclass(ftype, ctypes.Array):
                continue  # explicit padding of a layout built by to_ctypes: offsets say it already
            members.append((fname, from_ctypes(b, ftype, cache), getattr(ctype, fname).offset * 8))
        add = b.add_union if issubclass(ctype, ctypes.Union) else b.add_struct
        tid = add(ctype.__name__, size, members)
    elif ctype in (ctypes.c_float, ctypes.c_double):
        tid = b.add_float(ctype.__name__[2:], size)
    elif ctype is ctypes.c_bool:
        tid = b.add_int_encoded("_Bool", 1, BTF_INT_BOOL)
    elif hasattr(ctype, "_type_") and isinstance(ctype._type_, str):
        signed = ctype._type_ in "bhilqc"
        tid = b.add_int(_int_name(size, signed), size, signed=signed)
    else:
        raise TypeError(f"no BTF form for {ctype!r}")
    cache[ctype] = tid
    return tid


def _int_name(size: int, signed: bool) -> str:
    return {1: "char", 2: "short", 4: "int", 8: "long long"}[size] if signed else \
        {1: "unsigned char", 2: "unsigned short", 4: "unsigned int", 8: "unsigned long long"}[size]


__all__ = ["to_ctypes", "from_ctypes"]
