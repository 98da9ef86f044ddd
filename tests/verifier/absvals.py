"""Helpers for soundness tests: build the tightest abstract scalar holding some concrete values, and membership."""
from __future__ import annotations

from hypothesis import strategies as st

from pyebpf.verifier.bounds import reg_bounds_sync, s32, s64
from pyebpf.verifier.regstate import SCALAR_VALUE, Reg
from pyebpf.verifier.tnum import U32, U64, Tnum, tnum_const, tnum_union

interesting = st.sampled_from([0, 1, 2, 7, 8, 0xFF, 0x100, 0x7FFF, 0x8000, 0xFFFF, 0x7FFFFFFF, 0x80000000,
                               0xFFFFFFFF, 1 << 32, (1 << 63) - 1, 1 << 63, U64, U64 - 1, U64 - 0xFF])
u64s = st.one_of(st.integers(0, U64), interesting, st.integers(0, 300), st.integers(U64 - 300, U64))
value_sets = st.lists(u64s, min_size=1, max_size=4)


def abstract(values: list[int]) -> Reg:
    """Smallest register state (tnum and all eight bounds) containing every value, then bounds-synced."""
    r = Reg()
    r.type = SCALAR_VALUE
    t = tnum_const(values[0])
    for v in values[1:]:
        t = tnum_union(t, tnum_const(v))
    r.var_off = t
    r.umin, r.umax = min(values), max(values)
    r.smin, r.smax = min(s64(v) for v in values), max(s64(v) for v in values)
    r.u32_min, r.u32_max = min(v & U32 for v in values), max(v & U32 for v in values)
    r.s32_min, r.s32_max = min(s32(v) for v in values), max(s32(v) for v in values)
    reg_bounds_sync(r)
    return r


def contains(r: Reg, x: int) -> bool:
    x &= U64
    return (r.var_off.contains(x) and r.umin <= x <= r.umax and r.smin <= s64(x) <= r.smax
            and r.u32_min <= x & U32 <= r.u32_max and r.s32_min <= s32(x) <= r.s32_max)


def describe(r: Reg) -> str:
    return (f"var_off=({r.var_off.value:#x};{r.var_off.mask:#x}) u=[{r.umin:#x},{r.umax:#x}] s=[{r.smin},{r.smax}] "
            f"u32=[{r.u32_min:#x},{r.u32_max:#x}] s32=[{r.s32_min},{r.s32_max}]")
