"""Tristate numbers (kernel/bpf/tnum.c): a 64-bit value whose bits are each 0, 1 or unknown.

`value` holds the known-one bits, `mask` the unknown bits (value & mask == 0). Every operation is sound: if x is in
a and y is in b then op(x, y) is in op(a, b). Tnums are immutable; operations return new ones.
"""
from __future__ import annotations

from pyebpf.abi.widths import sign_extend

U64 = (1 << 64) - 1
U32 = (1 << 32) - 1


class Tnum:
    """(value; mask) as in struct tnum."""

    __slots__ = ("value", "mask")

    def __init__(self, value: int, mask: int) -> None:
        self.value = value
        self.mask = mask

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Tnum) and self.value == other.value and self.mask == other.mask

    def __hash__(self) -> int:
        return hash((self.value, self.mask))

    def __repr__(self) -> str:
        return f"Tnum({self.value:#x}; {self.mask:#x})"

    @property
    def is_const(self) -> bool:
        return not self.mask

    @property
    def is_unknown(self) -> bool:
        return self.mask == U64

    def contains(self, x: int) -> bool:
        """Concrete value x (taken mod 2**64) is a member of this tnum."""
        return (x & U64 & ~self.mask) == self.value

    def __contains__(self, x: int) -> bool:
        return self.contains(x)


TNUM_UNKNOWN = Tnum(0, U64)
TNUM_ZERO = Tnum(0, 0)


def tnum_const(value: int) -> Tnum:
    return Tnum(value & U64, 0)


def tnum_range(lo: int, hi: int) -> Tnum:
    """Smallest tnum covering the unsigned range [lo, hi]."""
    lo &= U64
    hi &= U64
    chi = lo ^ hi
    bits = chi.bit_length()
    if bits > 63:
        return TNUM_UNKNOWN
    delta = (1 << bits) - 1
    return Tnum(lo & ~delta, delta)


def tnum_lshift(a: Tnum, shift: int) -> Tnum:
    return Tnum((a.value << shift) & U64, (a.mask << shift) & U64)


def tnum_rshift(a: Tnum, shift: int) -> Tnum:
    return Tnum(a.value >> shift, a.mask >> shift)


_s = sign_extend  # (sN) of an N-bit value


def tnum_arshift(a: Tnum, shift: int, insn_bitness: int) -> Tnum:
    """Arithmetic right shift; for 32-bit the result is zero-extended like the kernel's (u32) casts."""
    if insn_bitness == 32:
        return Tnum((_s(a.value & U32, 32) >> shift) & U32, (_s(a.mask & U32, 32) >> shift) & U32)
    return Tnum((_s(a.value, 64) >> shift) & U64, (_s(a.mask, 64) >> shift) & U64)


def tnum_add(a: Tnum, b: Tnum) -> Tnum:
    sm = (a.mask + b.mask) & U64
    sv = (a.value + b.value) & U64
    sigma = (sm + sv) & U64
    chi = sigma ^ sv
    mu = chi | a.mask | b.mask
    return Tnum(sv & ~mu & U64, mu)


def tnum_sub(a: Tnum, b: Tnum) -> Tnum:
    dv = (a.value - b.value) & U64
    alpha = (dv + a.mask) & U64
    beta = (dv - b.mask) & U64
    chi = alpha ^ beta
    mu = chi | a.mask | b.mask
    return Tnum(dv & ~mu & U64, mu)


def tnum_neg(a: Tnum) -> Tnum:
    return tnum_sub(TNUM_ZERO, a)


def tnum_and(a: Tnum, b: Tnum) -> Tnum:
    alpha = a.value | a.mask
    beta = b.value | b.mask
    v = a.value & b.value
    return Tnum(v, alpha & beta & ~v & U64)


def tnum_or(a: Tnum, b: Tnum) -> Tnum:
    v = a.value | b.value
    mu = a.mask | b.mask
    return Tnum(v, mu & ~v & U64)


def tnum_xor(a: Tnum, b: Tnum) -> Tnum:
    v = a.value ^ b.value
    mu = a.mask | b.mask
    return Tnum(v & ~mu & U64, mu)


def tnum_mul(a: Tnum, b: Tnum) -> Tnum:
    """The kernel's shift-and-add multiplication (6.18): for each bit of `a`, a known 1 adds `b`, an unknown bit
    takes the union of adding it or not, so that correlated unknown bits of the partial products stay known."""
    acc = TNUM_ZERO
    av, am = a.value, a.mask
    while av or am:
        if av & 1:
            acc = tnum_add(acc, b)
        elif am & 1:
            acc = tnum_union(acc, tnum_add(acc, b))
        av >>= 1
        am >>= 1
        b = Tnum((b.value << 1) & U64, (b.mask << 1) & U64)
    return acc


def _swab(x: int, nbytes: int) -> int:
    return int.from_bytes(x.to_bytes(nbytes, "little"), "big")


def tnum_bswap16(a: Tnum) -> Tnum:
    return Tnum(_swab(a.value & 0xFFFF, 2), _swab(a.mask & 0xFFFF, 2))


def tnum_bswap32(a: Tnum) -> Tnum:
    return Tnum(_swab(a.value & U32, 4), _swab(a.mask & U32, 4))


def tnum_bswap64(a: Tnum) -> Tnum:
    return Tnum(_swab(a.value, 8), _swab(a.mask, 8))


def tnum_step(t: Tnum, z: int) -> int:
    """The smallest member of `t` greater than `z` (for tmin <= z < tmax); tmax past the end, tmin before it."""
    value, mask = t.value, t.mask
    tmax = value | mask
    if z >= tmax:
        return tmax
    if z < value:
        return value
    if value | (z & mask) > z:
        k = (~z & value & ~mask & U64).bit_length()
        q = (U64 << k) & U64
        return (q & z) | (~q & value & U64)
    k = (z & ~value & ~mask & U64).bit_length()
    q = (U64 << k) & U64
    v = (q & mask & z) | (q & ~mask & U64)
    return ((((v + (1 << k)) & U64) & mask) | value) & U64


def tnum_intersect(a: Tnum, b: Tnum) -> Tnum:
    if a is b:  # tnums are immutable: the same one is its own intersection (no new object)
        return a
    v = a.value | b.value
    mu = a.mask & b.mask
    return Tnum(v & ~mu & U64, mu)


def tnum_union(a: Tnum, b: Tnum) -> Tnum:
    """Smallest tnum containing both (tnum_union, used by the kernel when joining known bits)."""
    v = a.value & b.value
    mu = a.mask | b.mask | (a.value ^ b.value)
    return Tnum(v & ~mu & U64, mu)


def tnum_cast(a: Tnum, size: int) -> Tnum:
    """Truncate to `size` bytes."""
    m = (1 << (size * 8)) - 1
    return Tnum(a.value & m, a.mask & m)


def tnum_is_aligned(a: Tnum, size: int) -> bool:
    if not size:
        return True
    return not ((a.value | a.mask) & (size - 1))


def tnum_in(a: Tnum, b: Tnum) -> bool:
    """Every value of b is in a."""
    if b.mask & ~a.mask:
        return False
    return a.value == (b.value & ~a.mask)


def tnum_subreg(a: Tnum) -> Tnum:
    return tnum_cast(a, 4)


def tnum_clear_subreg(a: Tnum) -> Tnum:
    return tnum_lshift(tnum_rshift(a, 32), 32)


def tnum_with_subreg(reg: Tnum, subreg: Tnum) -> Tnum:
    return tnum_or(tnum_clear_subreg(reg), tnum_subreg(subreg))


def tnum_const_subreg(a: Tnum, value: int) -> Tnum:
    return tnum_with_subreg(a, tnum_const(value & U32))


def tnum_subreg_is_const(a: Tnum) -> bool:
    return not (a.mask & U32)


def tnum_strn(a: Tnum) -> str:
    """'(0x0; 0xff)' as the kernel's tnum_strn prints var_off."""
    return f"({a.value:#x}; {a.mask:#x})".replace("0x0;", "0x0;")
