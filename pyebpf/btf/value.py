"""Map keys and values as their BTF types say, the way bpftool's btf_dumper prints them: structs as objects by member
name, arrays as lists (a NUL-terminated printable `char` array as a string), enums by enumerator name, integers by
signedness, sections (`.bss`, `.data`) as `{section: [{var: value}]}`.

`btf_value(btf, type_id, raw)` gives JSON-ready Python values (`pyebpf map dump --json`'s "formatted"), so a comm key
prints as "bash" instead of sixteen hex bytes. Bytes past the type's size are ignored; bytes missing are a BtfError.
"""
from __future__ import annotations

import struct
from typing import Any

from pyebpf.btf import types as T
from pyebpf.btf.spec import Btf
from pyebpf.errors import BtfError

MAX_DEPTH = 64  # nested types deeper than this are hostile BTF (the kernel's limit for a type chain is 32)


def _is_str_array(btf: Btf, arr: T.Array, raw: bytes) -> bool:
    """bpftool's is_str_array: 1-byte char elements (modifiers skipped, not typedefs), a NUL inside, printable before."""
    if not arr.nelems:
        return False
    elem = arr.elem
    while isinstance(elem, (T.Const, T.Volatile, T.Restrict, T.TypeTag)):
        elem = elem.btf.type(elem.target_id)
    if not isinstance(elem, T.Int) or elem.byte_size != 1 or not (elem.char or elem.name == "char"):
        return False
    for b in raw[:arr.nelems]:
        if b == 0:
            return True
        if b <= 0x1F or b >= 0x7F:
            return False
    return False


def _int(t: T.Int, raw: bytes, bit_offset: int = 0, bits: int = 0) -> Any:
    size = t.byte_size
    if bits or t.bit_offset:
        word = int.from_bytes(raw[:size], "little") >> (bit_offset + t.bit_offset)
        n = bits or t.bits
        value = word & ((1 << n) - 1)
        if t.signed and value >> (n - 1):
            value -= 1 << n
        return value
    if t.bool_:
        return raw[0] != 0
    if size > 8:
        return "0x" + raw[:size][::-1].hex().lstrip("0").rjust(1, "0")
    value = int.from_bytes(raw[:size], "little", signed=t.signed)
    if t.char and not t.signed and size == 1 and 0x20 <= value < 0x7F:
        return chr(value)
    return value


def btf_value(btf: Btf, type_id: int, raw: bytes, _depth: int = 0) -> Any:
    """The value of type `type_id` stored in `raw`, as JSON-ready Python data."""
    if _depth > MAX_DEPTH:
        raise BtfError(f"BTF type [{type_id}] nests deeper than {MAX_DEPTH} levels")
    t = btf.type(type_id)
    if isinstance(t, (T.Typedef, T.Const, T.Volatile, T.Restrict, T.TypeTag)):
        return btf_value(btf, t.target_id, raw, _depth + 1)
    if isinstance(t, T.Var):
        return btf_value(btf, t.type_id, raw, _depth + 1)
    size = t.size
    if len(raw) < size:
        raise BtfError(f"{len(raw)} bytes is too short for BTF type [{type_id}] {t.name or t.kind.name} "
                       f"({size} bytes)")
    if isinstance(t, T.Int):
        return _int(t, raw)
    if isinstance(t, T.Pointer):
        return int.from_bytes(raw[:8], "little")
    if isinstance(t, T.Float):
        return struct.unpack_from({4: "<f", 8: "<d"}.get(size, "<d"), raw)[0] if size in (4, 8) else raw[:size].hex()
    if isinstance(t, T.Enum):
        either = {int.from_bytes(raw[:size], "little", signed=s) for s in (False, True)}
        for name, v in t.values:
            if v in either:
                return name
        return int.from_bytes(raw[:size], "little", signed=t.signed)
    if isinstance(t, T.Array):
        if _is_str_array(btf, t, raw):
            return raw[:raw.index(0)].decode("ascii")
        esize = btf.size_of(t.elem_id)
        return [btf_value(btf, t.elem_id, raw[i * esize:(i + 1) * esize], _depth + 1) for i in range(t.nelems)]
    if isinstance(t, T.Composite):
        out: dict[str, Any] = {}
        for m in t.members:
            if m.bitfield_size:
                base = btf.type(btf.skip_modifiers(m.type_id))
                if isinstance(base, T.Int):
                    byte = m.bit_offset // 8
                    value = _int(base, raw[byte:byte + base.byte_size] + bytes(8), m.bit_offset % 8, m.bitfield_size)
                else:
                    value = None
            else:
                value = btf_value(btf, m.type_id, raw[m.offset:], _depth + 1)
            if m.name:
                out[m.name] = value
            elif isinstance(value, dict):
                out.update(value)  # an anonymous struct/union member: its members are the parent's
        return out
    if isinstance(t, T.Datasec):
        entries = []
        for v in t.vars:
            var = btf.type(v.type_id)
            entries.append({var.name: btf_value(btf, v.type_id, raw[v.offset:v.offset + v.size], _depth + 1)})
        return {t.name: entries}
    raise BtfError(f"BTF type [{type_id}] ({t.kind.name}) has no value to print")


def btf_encode(btf: Btf, type_id: int, value: Any, _depth: int = 0) -> bytes:
    """The bytes of `value` (as btf_value prints it: dicts by member, lists, strings for char arrays, enumerator
    names) stored as type `type_id`; members left out are zero. BtfError for a value the type cannot hold."""
    if _depth > MAX_DEPTH:
        raise BtfError(f"BTF type [{type_id}] nests deeper than {MAX_DEPTH} levels")
    t = btf.type(type_id)
    if isinstance(t, (T.Typedef, T.Const, T.Volatile, T.Restrict, T.TypeTag)):
        return btf_encode(btf, t.target_id, value, _depth + 1)
    size = t.size
    what = t.name or t.kind.name.lower()

    def bad(why: str) -> BtfError:
        return BtfError(f"{value!r} does not fit {what} [{type_id}]: {why}")

    if isinstance(t, T.Int) and not t.bits % 8 and not t.bit_offset:
        if isinstance(value, str) and len(value) == 1 and size == 1:
            value = ord(value)
        if isinstance(value, bool) or not isinstance(value, int):
            if t.bool_ and isinstance(value, bool):
                return bytes([int(value)]).ljust(size, b"\0")
            raise bad("an integer is needed")
        try:
            return value.to_bytes(size, "little", signed=t.signed)
        except OverflowError:
            raise bad(f"out of range for {'' if t.signed else 'un'}signed {size * 8}-bit") from None
    if isinstance(t, T.Pointer):
        return btf_encode_int(value, 8, False, bad)
    if isinstance(t, T.Enum):
        if isinstance(value, str):
            for name, v in t.values:
                if name == value:
                    value = v
                    break
            else:
                raise bad(f"no enumerator {value!r}")
        return btf_encode_int(value, size, t.signed or value < 0, bad)
    if isinstance(t, T.Array):
        esize = btf.size_of(t.elem_id)
        if isinstance(value, str):
            raw = value.encode()
            if len(raw) >= t.nelems or esize != 1:
                raise bad(f"a string of at most {t.nelems - 1} bytes (a char array) is needed")
            return raw.ljust(size, b"\0")
        if not isinstance(value, list) or len(value) > t.nelems:
            raise bad(f"a list of at most {t.nelems} elements is needed")
        return b"".join(btf_encode(btf, t.elem_id, v, _depth + 1) for v in value).ljust(size, b"\0")
    if isinstance(t, T.Composite):
        if not isinstance(value, dict):
            raise bad("an object of members is needed")
        out = bytearray(size)
        names = {m.name for m in t.members}
        unknown = set(value) - names
        if unknown:
            raise bad(f"no member {sorted(unknown)[0]!r}")
        for m in t.members:
            if m.name not in value:
                continue
            if m.bitfield_size:
                raise bad(f"member {m.name!r} is a bitfield (not written by pyebpf)")
            raw = btf_encode(btf, m.type_id, value[m.name], _depth + 1)
            out[m.offset:m.offset + len(raw)] = raw
        return bytes(out)
    raise bad(f"{t.kind.name} values cannot be written")


def btf_encode_int(value: Any, size: int, signed: bool, bad) -> bytes:
    if isinstance(value, bool) or not isinstance(value, int):
        raise bad("an integer is needed")
    try:
        return value.to_bytes(size, "little", signed=signed)
    except OverflowError:
        raise bad(f"out of range for {size * 8} bits") from None


__all__ = ["btf_value", "btf_encode"]
