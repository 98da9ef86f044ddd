"""Scalar range tracking: the kernel's bounds bookkeeping and ALU transfer functions, on `Reg` in place.

Mirrors kernel/bpf/verifier.c: __mark_reg_known/unknown, __update_reg_bounds, __reg_deduce_bounds,
__reg_bound_offset, reg_bounds_sync, zext_32_to_64, coerce_reg_to_size(_sx) and scalar{32,}_min_max_<op>.
Signed bounds are held as Python ints in the signed domain, unsigned ones in the unsigned domain.
"""
from __future__ import annotations

from pyebpf.abi.widths import s32, s64, sign_extend
from pyebpf.verifier.regstate import NOT_INIT, S32_MAX, S32_MIN, S64_MAX, S64_MIN, SCALAR_VALUE, Reg
from pyebpf.verifier.tnum import (
    TNUM_UNKNOWN, U32, U64, Tnum, tnum_add, tnum_and, tnum_arshift, tnum_cast, tnum_clear_subreg, tnum_const,
    tnum_intersect, tnum_lshift, tnum_mul, tnum_neg, tnum_or, tnum_range, tnum_rshift, tnum_sub, tnum_subreg,
    tnum_subreg_is_const, tnum_xor, tnum_bswap16, tnum_bswap32, tnum_bswap64, tnum_step,
)

BIT63 = 1 << 63
BIT31 = 1 << 31


# ---- marking ----------------------------------------------------------------------------------------------------

_CONST_TNUMS: dict[int, Tnum] = {}
"""Tnum(v, 0) per constant v: tnums are immutable, so one object serves every register holding that constant
(cleared when full, like the memos below)"""


def mark_reg_known(reg: Reg, imm: int) -> None:
    """__mark_reg_known: a constant (imm taken mod 2**64)."""
    v = imm & U64
    t = _CONST_TNUMS.get(v)
    if t is None:
        if len(_CONST_TNUMS) >= 4096:
            _CONST_TNUMS.clear()
        t = _CONST_TNUMS[v] = Tnum(v, 0)
    reg.var_off = t
    reg.smin = reg.smax = v - (1 << 64) if v >> 63 else v  # s64(v), s32(v) written out: a hot path
    reg.umin = reg.umax = v
    v32 = v & U32
    reg.s32_min = reg.s32_max = v32 - (1 << 32) if v32 >> 31 else v32
    reg.u32_min = reg.u32_max = v32


def mark_reg32_known(reg: Reg, imm: int) -> None:
    """__mark_reg32_known: only the low 32 bits become the constant."""
    v = imm & U32
    reg.var_off = Tnum((reg.var_off.value & ~U32 & U64) | v, reg.var_off.mask & ~U32 & U64)
    reg.s32_min = reg.s32_max = s32(v)
    reg.u32_min = reg.u32_max = v


def mark_reg_unbounded(reg: Reg) -> None:
    reg.smin, reg.smax, reg.umin, reg.umax = S64_MIN, S64_MAX, 0, U64
    reg.s32_min, reg.s32_max, reg.u32_min, reg.u32_max = S32_MIN, S32_MAX, 0, U32


def mark_reg64_unbounded(reg: Reg) -> None:
    reg.smin, reg.smax, reg.umin, reg.umax = S64_MIN, S64_MAX, 0, U64


def mark_reg32_unbounded(reg: Reg) -> None:
    reg.s32_min, reg.s32_max, reg.u32_min, reg.u32_max = S32_MIN, S32_MAX, 0, U32


def mark_reg_unknown(reg: Reg) -> None:
    """__mark_reg_unknown: a scalar about which nothing is known."""
    reg.type = SCALAR_VALUE
    reg.off = 0
    reg.id = 0
    reg.ref_obj_id = 0
    reg.range = 0
    reg.map = None
    reg.mem_size = 0
    reg.frameno = 0
    reg.precise = False
    reg.var_off = TNUM_UNKNOWN
    mark_reg_unbounded(reg)


def mark_reg_not_init(reg: Reg) -> None:
    """__mark_reg_not_init: __mark_reg_unknown, then the type NOT_INIT."""
    reg.type = NOT_INIT
    reg.off = 0
    reg.id = 0
    reg.ref_obj_id = 0
    reg.range = 0
    reg.map = None
    reg.mem_size = 0
    reg.frameno = 0
    reg.precise = False
    reg.var_off = TNUM_UNKNOWN
    reg.smin, reg.smax, reg.umin, reg.umax = S64_MIN, S64_MAX, 0, U64
    reg.s32_min, reg.s32_max, reg.u32_min, reg.u32_max = S32_MIN, S32_MAX, 0, U32


def mark_reg_known_zero(reg: Reg) -> None:
    """__mark_reg_known_zero: used for pointers whose variable part is 0."""
    mark_reg_known(reg, 0)


def mark_scalar_known(reg: Reg, imm: int) -> None:
    mark_reg_unknown(reg)
    mark_reg_known(reg, imm)


# ---- bounds synchronisation ---------------------------------------------------------------------------------------

def update_reg32_bounds(reg: Reg) -> None:
    v, m = reg.var_off.value & U32, reg.var_off.mask & U32
    reg.s32_min = max(reg.s32_min, s32(v | (m & BIT31)))
    reg.s32_max = min(reg.s32_max, s32(v | (m & (BIT31 - 1))))
    reg.u32_min = max(reg.u32_min, v)
    reg.u32_max = min(reg.u32_max, v | m)


def update_reg64_bounds(reg: Reg) -> None:
    v, m = reg.var_off.value, reg.var_off.mask
    reg.smin = max(reg.smin, s64(v | (m & BIT63)))
    reg.smax = min(reg.smax, s64(v | (m & (BIT63 - 1))))
    reg.umin = max(reg.umin, v)
    reg.umax = min(reg.umax, v | m)
    if not m:
        return
    # the u64 range and the tnum may have a single value in common: then that is the value
    umin, umax = reg.umin, reg.umax
    nxt = tnum_step(reg.var_off, umin)
    umin_in = (umin & ~m) == v
    tmax = v | m
    if umin_in and nxt > umax:
        mark_reg_known(reg, umin)
    elif not umin_in and nxt == tmax:
        mark_reg_known(reg, tmax)
    elif not umin_in and nxt <= umax and tnum_step(reg.var_off, nxt) > umax:
        mark_reg_known(reg, nxt)


def update_reg_bounds(reg: Reg) -> None:
    update_reg32_bounds(reg)
    update_reg64_bounds(reg)


def reg32_deduce_bounds(reg: Reg) -> None:
    umin, umax, smin, smax = reg.umin, reg.umax, reg.smin, reg.smax
    u32min, u32max, s32min, s32max = reg.u32_min, reg.u32_max, reg.s32_min, reg.s32_max
    if umin >> 32 == umax >> 32:
        a, b = umin & U32, umax & U32
        if a > u32min:
            u32min = a
        if b < u32max:
            u32max = b
        a, b = s32(umin), s32(umax)
        if a <= b:
            if a > s32min:
                s32min = a
            if b < s32max:
                s32max = b
    if smin >> 32 == smax >> 32:
        a, b = smin & U32, smax & U32
        if a <= b:
            if a > u32min:
                u32min = a
            if b < u32max:
                u32max = b
        a, b = s32(smin), s32(smax)
        if a <= b:
            if a > s32min:
                s32min = a
            if b < s32max:
                s32max = b
    if ((umin >> 32) + 1) & U32 == (umax >> 32) & U32:
        a, b = s32(umin), s32(umax)
        if a < 0 <= b:
            if a > s32min:
                s32min = a
            if b < s32max:
                s32max = b
    if ((smin >> 32) + 1) & U32 == (smax >> 32) & U32:
        a, b = s32(smin), s32(smax)
        if a < 0 <= b:
            if a > s32min:
                s32min = a
            if b < s32max:
                s32max = b
    a, b = s32(u32min), s32(u32max)
    if a <= b:
        if a > s32min:
            s32min = a
        if b < s32max:
            s32max = b
    a, b = s32min & U32, s32max & U32
    if a <= b:
        if a > u32min:
            u32min = a
        if b < u32max:
            u32max = b
    elif u32max < a:
        # the s32 range wraps through the sign boundary: keep whichever end the u32 range overlaps
        s32min = s32(u32min)
        if b < u32max:
            u32max = b
    elif b < u32min:
        s32max = s32(u32max)
        if a > u32min:
            u32min = a
    reg.u32_min, reg.u32_max, reg.s32_min, reg.s32_max = u32min, u32max, s32min, s32max


def reg64_deduce_bounds(reg: Reg) -> None:
    if s64(reg.umin) <= s64(reg.umax):
        reg.smin = max(reg.smin, s64(reg.umin))
        reg.smax = min(reg.smax, s64(reg.umax))
    if reg.smin & U64 <= reg.smax & U64:
        reg.umin = max(reg.smin & U64, reg.umin)
        reg.umax = min(reg.smax & U64, reg.umax)
    else:
        # the s64 range wraps through the sign boundary: keep whichever end the u64 range overlaps
        if reg.umax < reg.smin & U64:
            reg.smin = s64(reg.umin)
            reg.umax = min(reg.umax, reg.smax & U64)
        elif reg.smax & U64 < reg.umin:
            reg.smax = s64(reg.umax)
            reg.umin = max(reg.umin, reg.smin & U64)


def reg_deduce_mixed_bounds(reg: Reg) -> None:
    hi = U64 & ~U32
    reg.umin = max(reg.umin, (reg.umin & hi) | reg.u32_min)
    reg.umax = min(reg.umax, (reg.umax & hi) | reg.u32_max)
    reg.smin = max(reg.smin, s64((reg.smin & hi) | reg.u32_min))
    reg.smax = min(reg.smax, s64((reg.smax & hi) | reg.u32_max))
    if reg.s32_min >= 0 and reg.smin >= S32_MIN and reg.smax <= S32_MAX:
        reg.smin = reg.s32_min
        reg.smax = reg.s32_max
        reg.umin = reg.s32_min
        reg.umax = reg.s32_max
        reg.var_off = tnum_intersect(reg.var_off, tnum_range(reg.smin, reg.smax))


def reg_deduce_bounds(reg: Reg) -> None:
    reg32_deduce_bounds(reg)
    reg64_deduce_bounds(reg)
    reg_deduce_mixed_bounds(reg)


def reg_bound_offset(reg: Reg) -> None:
    var64 = tnum_intersect(reg.var_off, tnum_range(reg.umin, reg.umax))
    var32 = tnum_intersect(tnum_subreg(var64), tnum_range(reg.u32_min, reg.u32_max))
    reg.var_off = tnum_or(tnum_clear_subreg(var64), var32)


_SYNC_CACHE: dict[tuple, tuple] = {}
_SYNC_CACHE_MAX = 1 << 14  # entries per memo (cleared when full): a few MB at most


def reg_bounds_sync(reg: Reg) -> None:
    """reg_bounds_sync: __update_reg_bounds, __reg_deduce_bounds twice, __reg_bound_offset, __update_reg_bounds.

    A pure function of the tnum and the eight bounds, so its results are memoised by that input: loops and
    branchy code sync the same few ranges over and over (the computation is ~20x the cost of the lookup).
    """
    var_off = reg.var_off
    v, m = var_off.value, var_off.mask
    if not m:  # a constant: every bound is the value
        reg.umin = reg.umax = v
        sv = v - (1 << 64) if v >> 63 else v
        reg.smin = reg.smax = sv
        v32 = v & 0xFFFFFFFF
        reg.u32_min = reg.u32_max = v32
        reg.s32_min = reg.s32_max = v32 - (1 << 32) if v32 >> 31 else v32
        return
    key = (v, m, reg.umin, reg.umax, reg.smin, reg.smax, reg.u32_min, reg.u32_max, reg.s32_min, reg.s32_max)
    out = _SYNC_CACHE.get(key)
    if out is None:
        _reg_bounds_sync_slow(reg)
        if len(_SYNC_CACHE) >= _SYNC_CACHE_MAX:
            _SYNC_CACHE.clear()
        out = _SYNC_CACHE[key] = (reg.var_off, reg.umin, reg.umax, reg.smin, reg.smax, reg.u32_min, reg.u32_max,
                                  reg.s32_min, reg.s32_max)
        return
    (reg.var_off, reg.umin, reg.umax, reg.smin, reg.smax, reg.u32_min, reg.u32_max, reg.s32_min,
     reg.s32_max) = out


def _reg_bounds_sync_slow(reg: Reg) -> None:
    """The computation behind reg_bounds_sync, over local variables in one function (the same steps as the
    separate functions above, which remain the reference)."""
    v, m = reg.var_off.value, reg.var_off.mask
    umin, umax, smin, smax = reg.umin, reg.umax, reg.smin, reg.smax
    u32min, u32max, s32min, s32max = reg.u32_min, reg.u32_max, reg.s32_min, reg.s32_max
    # __update_reg_bounds
    v32, m32 = v & 0xFFFFFFFF, m & 0xFFFFFFFF
    t = v32 | (m32 & 0x80000000)
    t = t - (1 << 32) if t >> 31 else t
    if t > s32min:
        s32min = t
    t = v32 | (m32 & 0x7FFFFFFF)
    if t < s32max:
        s32max = t
    if v32 > u32min:
        u32min = v32
    if v32 | m32 < u32max:
        u32max = v32 | m32
    t = v | (m & BIT63)
    t = t - (1 << 64) if t >> 63 else t
    if t > smin:
        smin = t
    t = v | (m & (BIT63 - 1))
    if t < smax:
        smax = t
    if v > umin:
        umin = v
    if v | m < umax:
        umax = v | m
    reg.umin, reg.umax, reg.smin, reg.smax = umin, umax, smin, smax
    reg.u32_min, reg.u32_max, reg.s32_min, reg.s32_max = u32min, u32max, s32min, s32max
    reg_deduce_bounds(reg)
    reg_deduce_bounds(reg)
    reg_bound_offset(reg)
    update_reg_bounds(reg)


def reg_bounds_sane(reg: Reg) -> bool:
    """reg_bounds_sanity_check: min <= max everywhere and the tnum agrees with the ranges."""
    if reg.type != SCALAR_VALUE:
        return True
    if reg.umin > reg.umax or reg.smin > reg.smax or reg.u32_min > reg.u32_max or reg.s32_min > reg.s32_max:
        return False
    v, m = reg.var_off.value, reg.var_off.mask
    if reg.umin > v | m or reg.umax < v:
        return False
    if reg.u32_min > (v | m) & U32 or reg.u32_max < v & U32:
        return False
    return True


def reg32_bound_s64(a: int) -> bool:
    return 0 <= a <= S32_MAX


def reg_assign_32_into_64(reg: Reg) -> None:
    reg.umin = reg.u32_min
    reg.umax = reg.u32_max
    if reg32_bound_s64(reg.s32_min) and reg32_bound_s64(reg.s32_max):
        reg.smin, reg.smax = reg.s32_min, reg.s32_max
    else:
        reg.smin, reg.smax = 0, U32


def zext_32_to_64(reg: Reg) -> None:
    reg.var_off = tnum_subreg(reg.var_off)
    reg_assign_32_into_64(reg)


def coerce_reg_to_size(reg: Reg, size: int) -> None:
    """Zero-extending truncation to `size` bytes (narrow loads, 32-bit moves of spilled values)."""
    reg.var_off = tnum_cast(reg.var_off, size)
    mask = (1 << (size * 8)) - 1
    if reg.umin & ~mask == reg.umax & ~mask:
        reg.umin &= mask
        reg.umax &= mask
    else:
        reg.umin, reg.umax = 0, mask
    reg.smin, reg.smax = reg.umin, reg.umax
    if size < 4:
        mark_reg32_unbounded(reg)
    reg_bounds_sync(reg)


def _sext(v: int, size: int) -> int:
    return sign_extend(v, size * 8)


def _set_sext64_default(reg: Reg, size: int) -> None:
    bits = size * 8
    reg.smin = reg.s32_min = -(1 << (bits - 1))
    reg.smax = reg.s32_max = (1 << (bits - 1)) - 1
    reg.umin = reg.u32_min = 0
    reg.umax = U64
    reg.u32_max = U32
    reg.var_off = TNUM_UNKNOWN


def coerce_reg_to_size_sx(reg: Reg, size: int) -> None:
    """Sign-extending truncation to `size` bytes into 64 bits (movsx, ldsx), as 6.18 does it: a constant stays
    one; when the 32-bit half never has the narrow sign bit set, the result is the plain truncation; a range
    whose bits above `size` agree keeps its sign-extended ends if they have one sign; else the narrow type's full
    signed range. (Measured against the running kernel: it does not sign-cast the tnum for 8/16-bit sources.)"""
    if reg.var_off.is_const:
        v = _sext(reg.var_off.value, size)
        reg.var_off = tnum_const(v)
        u = v & U64
        reg.smin = reg.smax = v
        reg.umin = reg.umax = u
        reg.s32_min = reg.s32_max = s32(u)
        reg.u32_min = reg.u32_max = u & U32
        return
    bits = size * 8
    if reg.u32_max < 1 << (bits - 1):
        coerce_reg_to_size(reg, size)
        return
    lo, hi = reg.s32_min, reg.s32_max
    if (reg.smax & U64) >> bits != (reg.smin & U64) >> bits:
        # measured on 6.18: a 32-bit half whose signed range lies inside the narrow type's and has one sign is
        # kept (sign extension is then the identity on it), whatever the upper half holds
        if not (-(1 << (bits - 1)) <= lo and hi < 1 << (bits - 1) and (lo >= 0) == (hi >= 0)):
            _set_sext64_default(reg, size)
            return
    else:
        a, b = _sext(reg.smax, size), _sext(reg.smin, size)
        hi, lo = max(a, b), min(a, b)
        if (hi >= 0) != (lo >= 0):
            _set_sext64_default(reg, size)
            return
    reg.smin, reg.smax = lo, hi
    reg.s32_min, reg.s32_max = s32(lo), s32(hi)
    reg.umin, reg.umax = lo & U64, hi & U64
    reg.u32_min, reg.u32_max = lo & U32, hi & U32
    reg.var_off = tnum_range(lo & U64, hi & U64)


def coerce_subreg_to_size_sx(reg: Reg, size: int) -> None:
    """32-bit movsx: sign-extend the low `size` bytes into the 32-bit subregister (the caller zero-extends)."""
    if reg.var_off.is_const:
        v = _sext(reg.var_off.value, size) & U32
        reg.var_off = tnum_const(v)
        reg.s32_min = reg.s32_max = s32(v)
        reg.u32_min = reg.u32_max = v
        return
    bits = size * 8
    if (reg.s32_max & U32) >> bits == (reg.s32_min & U32) >> bits:
        a, b = _sext(reg.s32_max, size), _sext(reg.s32_min, size)
        hi, lo = max(a, b), min(a, b)
        if (lo >= 0) == (hi >= 0):
            reg.s32_min, reg.s32_max = lo, hi
            reg.u32_min, reg.u32_max = lo & U32, hi & U32
            reg.var_off = tnum_subreg(tnum_range(lo & U64, hi & U64))
            return
    reg.s32_min = -(1 << (bits - 1))
    reg.s32_max = (1 << (bits - 1)) - 1
    reg.u32_min, reg.u32_max = 0, U32
    reg.var_off = tnum_subreg(TNUM_UNKNOWN)


# ---- ALU transfer functions --------------------------------------------------------------------------------------

def _add_ovf_s(a: int, b: int, lo: int, hi: int) -> tuple[int, bool]:
    r = a + b
    return r, not lo <= r <= hi


def scalar32_min_max_add(dst: Reg, src: Reg) -> None:
    smin, o1 = _add_ovf_s(dst.s32_min, src.s32_min, S32_MIN, S32_MAX)
    smax, o2 = _add_ovf_s(dst.s32_max, src.s32_max, S32_MIN, S32_MAX)
    if o1 or o2:
        dst.s32_min, dst.s32_max = S32_MIN, S32_MAX
    else:
        dst.s32_min, dst.s32_max = smin, smax
    umin, umax = dst.u32_min + src.u32_min, dst.u32_max + src.u32_max
    if umin <= U32 < umax:
        dst.u32_min, dst.u32_max = 0, U32
    else:
        dst.u32_min, dst.u32_max = umin & U32, umax & U32


def scalar_min_max_add(dst: Reg, src: Reg) -> None:
    smin, o1 = _add_ovf_s(dst.smin, src.smin, S64_MIN, S64_MAX)
    smax, o2 = _add_ovf_s(dst.smax, src.smax, S64_MIN, S64_MAX)
    if o1 or o2:
        dst.smin, dst.smax = S64_MIN, S64_MAX
    else:
        dst.smin, dst.smax = smin, smax
    umin, umax = dst.umin + src.umin, dst.umax + src.umax
    if umin <= U64 < umax:
        dst.umin, dst.umax = 0, U64
    else:
        dst.umin, dst.umax = umin & U64, umax & U64


def scalar32_min_max_sub(dst: Reg, src: Reg) -> None:
    smin, o1 = _add_ovf_s(dst.s32_min, -src.s32_max, S32_MIN, S32_MAX)
    smax, o2 = _add_ovf_s(dst.s32_max, -src.s32_min, S32_MIN, S32_MAX)
    if o1 or o2:
        dst.s32_min, dst.s32_max = S32_MIN, S32_MAX
    else:
        dst.s32_min, dst.s32_max = smin, smax
    umin, umax = dst.u32_min - src.u32_max, dst.u32_max - src.u32_min
    if umin < 0 <= umax:
        dst.u32_min, dst.u32_max = 0, U32
    else:
        dst.u32_min, dst.u32_max = umin & U32, umax & U32


def scalar_min_max_sub(dst: Reg, src: Reg) -> None:
    smin, o1 = _add_ovf_s(dst.smin, -src.smax, S64_MIN, S64_MAX)
    smax, o2 = _add_ovf_s(dst.smax, -src.smin, S64_MIN, S64_MAX)
    if o1 or o2:
        dst.smin, dst.smax = S64_MIN, S64_MAX
    else:
        dst.smin, dst.smax = smin, smax
    umin, umax = dst.umin - src.umax, dst.umax - src.umin
    if umin < 0 <= umax:
        dst.umin, dst.umax = 0, U64
    else:
        dst.umin, dst.umax = umin & U64, umax & U64


def _mul_bounds(dmin: int, dmax: int, smin: int, smax: int, lo: int, hi: int) -> tuple[int, int] | None:
    prods = (dmin * smin, dmin * smax, dmax * smin, dmax * smax)
    if any(not lo <= p <= hi for p in prods):
        return None
    return min(prods), max(prods)


def scalar32_min_max_mul(dst: Reg, src: Reg) -> None:
    umin, umax = dst.u32_min * src.u32_min, dst.u32_max * src.u32_max
    if umax > U32 or umin > U32:
        dst.u32_min, dst.u32_max = 0, U32
    else:
        dst.u32_min, dst.u32_max = umin, umax
    r = _mul_bounds(dst.s32_min, dst.s32_max, src.s32_min, src.s32_max, S32_MIN, S32_MAX)
    dst.s32_min, dst.s32_max = r if r else (S32_MIN, S32_MAX)


def scalar_min_max_mul(dst: Reg, src: Reg) -> None:
    umin, umax = dst.umin * src.umin, dst.umax * src.umax
    if umax > U64 or umin > U64:
        dst.umin, dst.umax = 0, U64
    else:
        dst.umin, dst.umax = umin, umax
    r = _mul_bounds(dst.smin, dst.smax, src.smin, src.smax, S64_MIN, S64_MAX)
    dst.smin, dst.smax = r if r else (S64_MIN, S64_MAX)


def _signed_from_unsigned32(dst: Reg) -> None:
    if s32(dst.u32_min) <= s32(dst.u32_max):
        dst.s32_min, dst.s32_max = s32(dst.u32_min), s32(dst.u32_max)
    else:
        dst.s32_min, dst.s32_max = S32_MIN, S32_MAX


def _signed_from_unsigned64(dst: Reg) -> None:
    if s64(dst.umin) <= s64(dst.umax):
        dst.smin, dst.smax = s64(dst.umin), s64(dst.umax)
    else:
        dst.smin, dst.smax = S64_MIN, S64_MAX


def scalar32_min_max_and(dst: Reg, src: Reg) -> None:
    var32 = tnum_subreg(dst.var_off)
    if tnum_subreg_is_const(src.var_off) and tnum_subreg_is_const(dst.var_off):
        mark_reg32_known(dst, var32.value)
        return
    dst.u32_min = var32.value
    dst.u32_max = min(dst.u32_max, src.u32_max)
    _signed_from_unsigned32(dst)


def scalar_min_max_and(dst: Reg, src: Reg) -> None:
    if src.var_off.is_const and dst.var_off.is_const:
        mark_reg_known(dst, dst.var_off.value)
        return
    dst.umin = dst.var_off.value
    dst.umax = min(dst.umax, src.umax)
    _signed_from_unsigned64(dst)
    update_reg_bounds(dst)


def scalar32_min_max_or(dst: Reg, src: Reg) -> None:
    var32 = tnum_subreg(dst.var_off)
    if tnum_subreg_is_const(src.var_off) and tnum_subreg_is_const(dst.var_off):
        mark_reg32_known(dst, var32.value)
        return
    dst.u32_min = max(dst.u32_min, src.u32_min)
    dst.u32_max = var32.value | var32.mask
    _signed_from_unsigned32(dst)


def scalar_min_max_or(dst: Reg, src: Reg) -> None:
    if src.var_off.is_const and dst.var_off.is_const:
        mark_reg_known(dst, dst.var_off.value)
        return
    dst.umin = max(dst.umin, src.umin)
    dst.umax = dst.var_off.value | dst.var_off.mask
    _signed_from_unsigned64(dst)
    update_reg_bounds(dst)


def scalar32_min_max_xor(dst: Reg, src: Reg) -> None:
    var32 = tnum_subreg(dst.var_off)
    if tnum_subreg_is_const(src.var_off) and tnum_subreg_is_const(dst.var_off):
        mark_reg32_known(dst, var32.value)
        return
    dst.u32_min = var32.value
    dst.u32_max = var32.value | var32.mask
    _signed_from_unsigned32(dst)


def scalar_min_max_xor(dst: Reg, src: Reg) -> None:
    if src.var_off.is_const and dst.var_off.is_const:
        mark_reg_known(dst, dst.var_off.value)
        return
    dst.umin = dst.var_off.value
    dst.umax = dst.var_off.value | dst.var_off.mask
    _signed_from_unsigned64(dst)
    update_reg_bounds(dst)


def _scalar32_lsh(dst: Reg, umin_val: int, umax_val: int) -> None:
    dst.s32_min, dst.s32_max = S32_MIN, S32_MAX
    if umax_val > 31 or dst.u32_max > 1 << (31 - umax_val):
        dst.u32_min, dst.u32_max = 0, U32
    else:
        dst.u32_min <<= umin_val
        dst.u32_max <<= umax_val


def scalar32_min_max_lsh(dst: Reg, src: Reg) -> None:
    umin_val, umax_val = src.u32_min, src.u32_max
    subreg = tnum_subreg(dst.var_off)
    _scalar32_lsh(dst, umin_val, umax_val)
    dst.var_off = tnum_subreg(tnum_lshift(subreg, umin_val))
    mark_reg64_unbounded(dst)
    update_reg32_bounds(dst)


def _scalar64_lsh(dst: Reg, umin_val: int, umax_val: int) -> None:
    if umin_val == 32 and umax_val == 32 and dst.s32_max >= 0:
        dst.smax = dst.s32_max << 32
    else:
        dst.smax = S64_MAX
    if umin_val == 32 and umax_val == 32 and dst.s32_min >= 0:
        dst.smin = dst.s32_min << 32
    else:
        dst.smin = S64_MIN
    if dst.umax > 1 << (63 - umax_val):
        dst.umin, dst.umax = 0, U64
    else:
        dst.umin = (dst.umin << umin_val) & U64
        dst.umax = (dst.umax << umax_val) & U64


def scalar_min_max_lsh(dst: Reg, src: Reg) -> None:
    umin_val, umax_val = src.umin, src.umax
    _scalar64_lsh(dst, umin_val, umax_val)
    _scalar32_lsh(dst, umin_val, umax_val)
    dst.var_off = tnum_lshift(dst.var_off, umin_val)
    update_reg_bounds(dst)


def scalar32_min_max_rsh(dst: Reg, src: Reg) -> None:
    umin_val, umax_val = src.u32_min, src.u32_max
    subreg = tnum_subreg(dst.var_off)
    dst.s32_min, dst.s32_max = S32_MIN, S32_MAX
    dst.var_off = tnum_rshift(subreg, umin_val)
    dst.u32_min >>= umax_val
    dst.u32_max >>= umin_val
    mark_reg64_unbounded(dst)
    update_reg32_bounds(dst)


def scalar_min_max_rsh(dst: Reg, src: Reg) -> None:
    umin_val, umax_val = src.umin, src.umax
    dst.smin, dst.smax = S64_MIN, S64_MAX
    dst.var_off = tnum_rshift(dst.var_off, umin_val)
    dst.umin >>= umax_val
    dst.umax >>= umin_val
    mark_reg32_unbounded(dst)
    update_reg_bounds(dst)


def scalar32_min_max_arsh(dst: Reg, src: Reg) -> None:
    umin_val = src.u32_min
    dst.s32_min >>= umin_val
    dst.s32_max >>= umin_val
    dst.var_off = tnum_arshift(tnum_subreg(dst.var_off), umin_val, 32)
    dst.u32_min, dst.u32_max = 0, U32
    mark_reg64_unbounded(dst)
    update_reg32_bounds(dst)


def scalar_min_max_arsh(dst: Reg, src: Reg) -> None:
    umin_val = src.umin
    dst.smin >>= umin_val
    dst.smax >>= umin_val
    dst.var_off = tnum_arshift(dst.var_off, umin_val, 64)
    dst.umin, dst.umax = 0, U64
    mark_reg32_unbounded(dst)
    update_reg_bounds(dst)


ALU_ADD, ALU_SUB, ALU_MUL, ALU_DIV, ALU_OR, ALU_AND, ALU_LSH, ALU_RSH, ALU_NEG, ALU_MOD, ALU_XOR, ALU_MOV, \
    ALU_ARSH, ALU_END = 0x00, 0x10, 0x20, 0x30, 0x40, 0x50, 0x60, 0x70, 0x80, 0x90, 0xA0, 0xB0, 0xC0, 0xD0


def _arsh(a: int, b: int, bits: int) -> int:
    return (a - (1 << bits) if a >> (bits - 1) else a) >> b


_CONST_FOLD = {
    ALU_ADD: lambda a, b, bits: a + b, ALU_SUB: lambda a, b, bits: a - b, ALU_MUL: lambda a, b, bits: a * b,
    ALU_AND: lambda a, b, bits: a & b, ALU_OR: lambda a, b, bits: a | b, ALU_XOR: lambda a, b, bits: a ^ b,
    ALU_LSH: lambda a, b, bits: a << b, ALU_RSH: lambda a, b, bits: a >> b, ALU_ARSH: _arsh,
    ALU_NEG: lambda a, b, bits: -a,
}


_BSWAP = {16: tnum_bswap16, 32: tnum_bswap32, 64: tnum_bswap64}


def scalar_byte_swap(dst: Reg, imm: int, need_bswap: bool) -> None:
    """BPF_END: a swap keeps the known bits (tnum_bswap*) and drops the ranges, to be re-derived from the tnum;
    16/32-bit forms also truncate. On this little-endian host to_le is no swap, to_be and bswap are."""
    if need_bswap or imm in (16, 32):
        dst.id = 0
    if need_bswap:
        dst.var_off = _BSWAP[imm](dst.var_off)
        mark_reg_unbounded(dst)
    if imm in (16, 32):
        coerce_reg_to_size(dst, imm // 8)


def is_safe_to_compute_dst_reg_range(op: int, src: Reg, alu32: bool) -> bool:
    if op in (ALU_ADD, ALU_SUB, ALU_NEG, ALU_AND, ALU_XOR, ALU_OR, ALU_MUL, ALU_END):
        return True
    if op in (ALU_LSH, ALU_RSH, ALU_ARSH):
        if alu32:
            const = (tnum_subreg_is_const(src.var_off) and src.s32_min == src.s32_max
                     and src.u32_min == src.u32_max)
        else:
            const = src.var_off.is_const and src.smin == src.smax and src.umin == src.umax
        return const and src.umax < (32 if alu32 else 64)
    return False


def adjust_scalar_min_max_vals(op: int, dst: Reg, src: Reg, alu32: bool, end_imm: int = 0,
                               end_swap: bool = False) -> None:
    """Scalar dst op= scalar src, as the kernel's adjust_scalar_min_max_vals (dst is modified in place); for
    BPF_END, `end_imm` is the width and `end_swap` whether the bytes are swapped on this host."""
    if not dst.var_off.mask and not src.var_off.mask and op in _CONST_FOLD:
        # constants stay constants through every transfer function and reg_bounds_sync: fold directly
        a, b = dst.var_off.value, src.var_off.value
        if op == ALU_ADD and not alu32:  # the loop counter's `r += k`
            mark_reg_known(dst, a + b)
            return
        if op in (ALU_LSH, ALU_RSH, ALU_ARSH) and b >= (32 if alu32 else 64):
            # is_safe_to_compute_dst_reg_range looks at the whole 64-bit shift amount, even for 32-bit shifts
            mark_reg_unknown(dst)
            return
        if alu32:
            a &= U32
            b &= U32
            if op in (ALU_LSH, ALU_RSH, ALU_ARSH) and b >= 32:
                mark_reg_unknown(dst)
                return
            mark_reg_known(dst, _CONST_FOLD[op](a, b, 32) & U32)
        else:
            if op in (ALU_LSH, ALU_RSH, ALU_ARSH) and b >= 64:
                mark_reg_unknown(dst)
                return
            mark_reg_known(dst, _CONST_FOLD[op](a, b, 64) & U64)
        return
    if op in _MEMO_OPS and src is not dst:
        # a pure function of both operands' tnums and bounds (when the range is safe to compute): memoised
        dv, sv = dst.var_off, src.var_off
        key = (op, alu32, dv.value, dv.mask, dst.umin, dst.umax, dst.smin, dst.smax, dst.u32_min, dst.u32_max,
               dst.s32_min, dst.s32_max, sv.value, sv.mask, src.umin, src.umax, src.smin, src.smax, src.u32_min,
               src.u32_max, src.s32_min, src.s32_max)
        out = _ADJUST_CACHE.get(key)
        if out is not None:
            (dst.var_off, dst.umin, dst.umax, dst.smin, dst.smax, dst.u32_min, dst.u32_max, dst.s32_min,
             dst.s32_max) = out
            return
        if not is_safe_to_compute_dst_reg_range(op, src, alu32):
            mark_reg_unknown(dst)
            return
        _adjust_scalar_safe(op, dst, src, alu32, end_imm, end_swap)
        if len(_ADJUST_CACHE) >= _SYNC_CACHE_MAX:
            _ADJUST_CACHE.clear()
        _ADJUST_CACHE[key] = (dst.var_off, dst.umin, dst.umax, dst.smin, dst.smax, dst.u32_min, dst.u32_max,
                              dst.s32_min, dst.s32_max)
        return
    if not is_safe_to_compute_dst_reg_range(op, src, alu32):
        mark_reg_unknown(dst)
        return
    _adjust_scalar_safe(op, dst, src, alu32, end_imm, end_swap)


_MEMO_OPS = frozenset({ALU_ADD, ALU_SUB, ALU_MUL, ALU_AND, ALU_OR, ALU_XOR, ALU_LSH, ALU_RSH, ALU_ARSH})
_ADJUST_CACHE: dict[tuple, tuple] = {}


def _adjust_scalar_safe(op: int, dst: Reg, src: Reg, alu32: bool, end_imm: int, end_swap: bool) -> None:
    """adjust_scalar_min_max_vals once is_safe_to_compute_dst_reg_range() said yes: the transfer function, the
    32-bit zero extension and reg_bounds_sync (only dst's tnum and bounds change)."""
    if op == ALU_ADD:
        scalar32_min_max_add(dst, src)
        scalar_min_max_add(dst, src)
        dst.var_off = tnum_add(dst.var_off, src.var_off)
    elif op == ALU_SUB:
        scalar32_min_max_sub(dst, src)
        scalar_min_max_sub(dst, src)
        dst.var_off = tnum_sub(dst.var_off, src.var_off)
    elif op == ALU_NEG:
        old = dst.copy()
        mark_reg_known(dst, 0)
        scalar32_min_max_sub(dst, old)
        scalar_min_max_sub(dst, old)
        dst.var_off = tnum_neg(old.var_off)
    elif op == ALU_MUL:
        dst.var_off = tnum_mul(dst.var_off, src.var_off)
        scalar32_min_max_mul(dst, src)
        scalar_min_max_mul(dst, src)
    elif op == ALU_AND:
        dst.var_off = tnum_and(dst.var_off, src.var_off)
        scalar32_min_max_and(dst, src)
        scalar_min_max_and(dst, src)
    elif op == ALU_OR:
        dst.var_off = tnum_or(dst.var_off, src.var_off)
        scalar32_min_max_or(dst, src)
        scalar_min_max_or(dst, src)
    elif op == ALU_XOR:
        dst.var_off = tnum_xor(dst.var_off, src.var_off)
        scalar32_min_max_xor(dst, src)
        scalar_min_max_xor(dst, src)
    elif op == ALU_LSH:
        (scalar32_min_max_lsh if alu32 else scalar_min_max_lsh)(dst, src)
    elif op == ALU_RSH:
        (scalar32_min_max_rsh if alu32 else scalar_min_max_rsh)(dst, src)
    elif op == ALU_ARSH:
        (scalar32_min_max_arsh if alu32 else scalar_min_max_arsh)(dst, src)
    elif op == ALU_END:
        scalar_byte_swap(dst, end_imm, end_swap)
    if alu32 and op != ALU_END:  # BPF_END truncates (or not) by itself: le64 is an ALU-class 64-bit op
        zext_32_to_64(dst)
    reg_bounds_sync(dst)


def tnum_const_reg(imm: int) -> Reg:
    """A fresh known-constant scalar register (the kernel's fake_reg)."""
    r = Reg()
    mark_scalar_known(r, imm)
    return r


__all__ = [n for n in dir() if not n.startswith("_")]
