"""The kernel's integer widths as C casts them: `(u32)x` truncates, `(s32)x` truncates and sign-extends.

Python ints have no width, so every layer that models a register, an immediate or a field needs these casts; they
live here once (the verifier's bounds, the VM, the encoder, the printers and the assemblers all ask this module).
"""
from __future__ import annotations

U8, U16, U32, U64 = 0xFF, 0xFFFF, 0xFFFFFFFF, 0xFFFFFFFFFFFFFFFF
S16_MIN, S16_MAX = -(1 << 15), (1 << 15) - 1
S32_MIN, S32_MAX = -(1 << 31), (1 << 31) - 1
S64_MIN, S64_MAX = -(1 << 63), (1 << 63) - 1


def sign_extend(value: int, bits: int) -> int:
    """`value` truncated to `bits` and read as two's complement: (s8)/(s16)/(s32)/(s64) for bits 8/16/32/64."""
    value &= (1 << bits) - 1
    return value - (1 << bits) if value >> (bits - 1) & 1 else value


def s16(value: int) -> int:
    """(s16)value."""
    value &= U16
    return value - 0x10000 if value & 0x8000 else value


def s32(value: int) -> int:
    """(s32)value: the verifier and the VM call this on every 32-bit operation, so it is written out."""
    value &= U32
    return value - 0x100000000 if value & 0x80000000 else value


def s64(value: int) -> int:
    """(s64)value."""
    value &= U64
    return value - 0x10000000000000000 if value & 0x8000000000000000 else value


def u32(value: int) -> int:
    """(u32)value."""
    return value & U32


def u64(value: int) -> int:
    """(u64)value."""
    return value & U64


__all__ = ["U8", "U16", "U32", "U64", "S16_MIN", "S16_MAX", "S32_MIN", "S32_MAX", "S64_MIN", "S64_MAX",
           "sign_extend", "s16", "s32", "s64", "u32", "u64"]
