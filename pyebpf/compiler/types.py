"""The value types of the compiler's IR: fixed-width integers with C semantics, and typed pointers.

An `IntType` is also a Python function: `u32(x)` wraps an int to 32 bits, so a probe's casts mean the same thing
when the function is called in plain Python (tests, constant folding) as when it is compiled.
Registers hold every integer normalised to 64 bits: unsigned types zero-extended, signed types sign-extended, so
comparisons and 64-bit jumps need no fix-up; the lowering re-normalises after each operation of a narrower type.
"""
from __future__ import annotations

import ctypes
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class IntType:
    """u8..u64 / s8..s64."""

    name: str
    bits: int
    signed: bool

    @property
    def size(self) -> int:
        return self.bits // 8

    @property
    def mask(self) -> int:
        return (1 << self.bits) - 1

    @property
    def min(self) -> int:
        return -(1 << (self.bits - 1)) if self.signed else 0

    @property
    def max(self) -> int:
        return (1 << (self.bits - 1)) - 1 if self.signed else self.mask

    def wrap(self, value: int) -> int:
        """`value` converted to this type as C converts (modulo 2**bits, then signed if the type is)."""
        value &= self.mask
        if self.signed and value >> (self.bits - 1):
            value -= 1 << self.bits
        return value

    def __call__(self, value: Any) -> int:
        return self.wrap(int(value))

    @property
    def ctype(self) -> Any:
        return _CTYPES[(self.bits, self.signed)]

    def __repr__(self) -> str:
        return self.name


U8, U16, U32, U64 = (IntType(f"u{b}", b, False) for b in (8, 16, 32, 64))
S8, S16, S32, S64 = (IntType(f"s{b}", b, True) for b in (8, 16, 32, 64))
INT_TYPES: dict[str, IntType] = {t.name: t for t in (U8, U16, U32, U64, S8, S16, S32, S64)}
BOOL = U8  # the type a comparison yields when stored (C: int; u8 keeps records small)

_CTYPES = {(8, False): ctypes.c_uint8, (16, False): ctypes.c_uint16, (32, False): ctypes.c_uint32,
           (64, False): ctypes.c_uint64, (8, True): ctypes.c_int8, (16, True): ctypes.c_int16,
           (32, True): ctypes.c_int32, (64, True): ctypes.c_int64}
_FROM_CTYPE = {v: INT_TYPES[("s" if s else "u") + str(b)] for (b, s), v in _CTYPES.items()}
_FROM_CTYPE.update({ctypes.c_char: U8, ctypes.c_bool: U8})


def int_type_of_ctype(ctype: Any) -> IntType | None:
    """The IntType of a ctypes scalar (c_uint32 -> u32, c_long -> s64), or None for anything else."""
    found = _FROM_CTYPE.get(ctype)
    if found is not None:
        return found
    if isinstance(ctype, type) and issubclass(ctype, ctypes._SimpleCData) and ctype._type_ in "bBhHiIlLqQ":
        return INT_TYPES[("u" if ctype._type_.isupper() else "s") + str(8 * ctypes.sizeof(ctype))]
    return None


def promote(t: IntType) -> IntType:
    """C's integer promotion: types narrower than int become int (s32)."""
    return S32 if t.bits < 32 else t


def common_type(a: IntType, b: IntType) -> IntType:
    """C's usual arithmetic conversions on two (promoted) integer types."""
    a, b = promote(a), promote(b)
    if a.bits != b.bits:
        return a if a.bits > b.bits else b
    return a if not a.signed else b


def literal_type(value: int) -> IntType:
    """The type of an integer literal standing alone: s64 if it fits, else u64 (C picks the first that fits)."""
    return S64 if -(1 << 63) <= value < (1 << 63) else U64


@dataclass(frozen=True)
class PtrType:
    """A pointer the verifier tracks by kind: 'ctx', 'stack', 'map_value', 'packet', 'packet_end', 'map', 'mem'.
    `target` is what it points to (a ctypes type or an IntType), when known."""

    kind: str
    target: Any = None

    @property
    def bits(self) -> int:
        return 64

    @property
    def signed(self) -> bool:
        return False

    def __repr__(self) -> str:
        name = getattr(self.target, "__name__", repr(self.target)) if self.target is not None else "?"
        return f"*{self.kind}<{name}>"


ValueType = IntType | PtrType

__all__ = ["IntType", "PtrType", "ValueType", "U8", "U16", "U32", "U64", "S8", "S16", "S32", "S64", "INT_TYPES",
           "BOOL", "int_type_of_ctype", "promote", "common_type", "literal_type"]
