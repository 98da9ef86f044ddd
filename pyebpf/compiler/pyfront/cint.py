"""C integer semantics: constant folding (also the reference the tests check compiled code against), value
ranges, and the access widths memory copies use."""
from __future__ import annotations

from typing import Any

from pyebpf.compiler.types import S32, S64, U64, IntType

def c_binop(op: str, a: int, b: int, t: IntType) -> int:
    """a OP b in type t with eBPF's definitions where C leaves it undefined: x / 0 = 0, x % 0 = x, shift counts
    taken modulo the width, signed division truncating toward zero (INT_MIN / -1 wraps to INT_MIN)."""
    a, b = t.wrap(a), t.wrap(b) if op not in ("lsh", "rsh", "arsh") else b
    if op == "add":
        r = a + b
    elif op == "sub":
        r = a - b
    elif op == "mul":
        r = a * b
    elif op in ("div", "mod"):
        if b == 0:
            r = 0 if op == "div" else a
        else:
            q = abs(a) // abs(b)
            if (a < 0) != (b < 0):
                q = -q
            r = q if op == "div" else a - q * b
    elif op == "and":
        r = a & b
    elif op == "or":
        r = a | b
    elif op == "xor":
        r = a ^ b
    elif op == "lsh":
        r = a << (b & (t.bits - 1))
    elif op in ("rsh", "arsh"):
        r = a >> (b & (t.bits - 1))  # Python's >> is arithmetic on signed values, logical on unsigned ones
    else:
        raise ValueError(op)
    return t.wrap(r)


def result_range(op: str, a: tuple[int, int], b: tuple[int, int]) -> tuple[int, int] | None:
    """Bounds of a OP b computed exactly (before any wrap-around), or None when not tracked."""
    (alo, ahi), (blo, bhi) = a, b
    if op == "add":
        return alo + blo, ahi + bhi
    if op == "sub":
        return alo - bhi, ahi - blo
    if op == "mul":
        corners = (alo * blo, alo * bhi, ahi * blo, ahi * bhi)
        return min(corners), max(corners)
    if op == "and":
        if alo >= 0 and blo >= 0:
            return 0, min(ahi, bhi)
        if alo >= 0 or blo >= 0:
            return 0, ahi if alo >= 0 else bhi
        return None
    if op in ("or", "xor") and alo >= 0 and blo >= 0:
        return 0, (1 << max(ahi, bhi).bit_length()) - 1
    if op == "lsh" and blo == bhi and alo >= 0:
        return alo << blo, ahi << blo
    if op in ("rsh", "arsh") and blo == bhi and alo >= 0:
        return alo >> blo, ahi >> blo
    if op == "div" and alo >= 0 and blo > 0:
        return alo // bhi, ahi // blo
    if op == "mod" and alo >= 0 and blo > 0:
        return 0, min(ahi, bhi - 1)
    return None


def access_width(left: int, *offsets: int) -> int:
    """The widest access (8, 4, 2, 1 bytes) that fits in `left` bytes and is aligned at every offset (stack and
    context accesses must be naturally aligned; objects start 8-aligned)."""
    return next(w for w in (8, 4, 2, 1) if w <= left and all(o % w == 0 for o in offsets))


def c_compare(op: str, a: int, b: int) -> bool:
    return {"eq": a == b, "ne": a != b, "gt": a > b, "ge": a >= b, "lt": a < b, "le": a <= b}[op.lstrip("s")]


def literal_type(value: Any) -> IntType:
    """C's type for a literal: int if it fits, else long, else unsigned long."""
    if -(1 << 31) <= value < (1 << 31):
        return S32
    return S64 if -(1 << 63) <= value < (1 << 63) else U64
