"""tnum operations are sound: every concrete result of concrete members of the inputs is a member of the output."""
from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from pyebpf.verifier import tnum as T
from pyebpf.verifier.tnum import U32, U64, Tnum

from absvals import u64s


@st.composite
def tnum_and_member(draw):
    """A random tnum and a concrete member of it."""
    mask = draw(st.one_of(u64s, st.integers(0, 0xFF), st.just(0)))
    value = draw(u64s) & ~mask & U64
    pick = draw(u64s) & mask
    return Tnum(value, mask), value | pick


MEMBER = tnum_and_member()
BINOPS = {
    "add": (T.tnum_add, lambda a, b: a + b),
    "sub": (T.tnum_sub, lambda a, b: a - b),
    "mul": (T.tnum_mul, lambda a, b: a * b),
    "and": (T.tnum_and, lambda a, b: a & b),
    "or": (T.tnum_or, lambda a, b: a | b),
    "xor": (T.tnum_xor, lambda a, b: a ^ b),
}


@settings(max_examples=300)
@given(st.sampled_from(sorted(BINOPS)), MEMBER, MEMBER)
def test_binary_ops_are_sound(name, a, b):
    op, concrete = BINOPS[name]
    (ta, x), (tb, y) = a, b
    out = op(ta, tb)
    assert out.value & out.mask == 0
    assert out.contains(concrete(x, y) & U64), (name, ta, tb, x, y, out)


@settings(max_examples=200)
@given(MEMBER, st.integers(0, 63))
def test_shifts_are_sound(a, shift):
    t, x = a
    assert T.tnum_lshift(t, shift).contains((x << shift) & U64)
    assert T.tnum_rshift(t, shift).contains(x >> shift)
    sx = x - (1 << 64) if x >> 63 else x
    assert T.tnum_arshift(t, shift, 64).contains((sx >> shift) & U64)
    if shift < 32:
        x32 = x & U32
        s32 = x32 - (1 << 32) if x32 >> 31 else x32
        assert T.tnum_arshift(T.tnum_subreg(t), shift, 32).contains((s32 >> shift) & U32)


@settings(max_examples=200)
@given(u64s, u64s, u64s)
def test_range_covers_its_interval(a, b, x):
    lo, hi = min(a, b), max(a, b)
    t = T.tnum_range(lo, hi)
    for v in (lo, hi, min(max(x, lo), hi)):
        assert t.contains(v)


@settings(max_examples=200)
@given(MEMBER, MEMBER)
def test_intersect_union_in(a, b):
    (ta, x), (tb, y) = a, b
    u = T.tnum_union(ta, tb)
    assert u.contains(x) and u.contains(y)
    assert T.tnum_in(u, ta) and T.tnum_in(u, tb)
    if tb.contains(x):
        assert T.tnum_intersect(ta, tb).contains(x)


@settings(max_examples=100)
@given(MEMBER, st.sampled_from([1, 2, 4, 8]))
def test_cast_and_subreg(a, size):
    t, x = a
    assert T.tnum_cast(t, size).contains(x & ((1 << (8 * size)) - 1))
    assert T.tnum_subreg(t).contains(x & U32)
    assert T.tnum_clear_subreg(t).contains(x & ~U32 & U64)


def test_known_values():
    assert T.tnum_range(0, 255) == Tnum(0, 0xFF)
    assert T.tnum_range(0, U64).is_unknown
    assert T.tnum_add(T.tnum_const(3), T.tnum_const(4)) == T.tnum_const(7)
    assert T.tnum_mul(Tnum(0, 0xFF), T.tnum_const(3)) == Tnum(0, 0x3FF)
    assert T.tnum_is_aligned(Tnum(8, 0xF0), 8) and not T.tnum_is_aligned(Tnum(4, 0), 8)
