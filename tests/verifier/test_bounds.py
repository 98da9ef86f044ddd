"""Range tracking is sound: ALU transfer functions, bounds deduction and branch refinement never lose a concrete
value, and is_branch_taken never predicts a direction some concrete pair contradicts."""
from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from pyebpf.verifier.bounds import (
    ALU_ADD, ALU_AND, ALU_ARSH, ALU_LSH, ALU_MUL, ALU_NEG, ALU_OR, ALU_RSH, ALU_SUB, ALU_XOR,
    adjust_scalar_min_max_vals, coerce_reg_to_size, coerce_reg_to_size_sx, reg_bounds_sync, s32, s64,
)
from pyebpf.verifier.jumps import (
    JEQ, JGE, JGT, JLE, JLT, JNE, JSET, JSGE, JSGT, JSLE, JSLT, is_branch_taken, reg_set_min_max,
)
from pyebpf.verifier.tnum import U32, U64

from absvals import abstract, contains, describe, u64s, value_sets


def _alu(op: int, x: int, y: int, bits: int) -> int:
    m = (1 << bits) - 1
    x &= m
    y &= m
    sx = x - (1 << bits) if x >> (bits - 1) else x
    return {
        ALU_ADD: lambda: x + y, ALU_SUB: lambda: x - y, ALU_MUL: lambda: x * y, ALU_AND: lambda: x & y,
        ALU_OR: lambda: x | y, ALU_XOR: lambda: x ^ y, ALU_LSH: lambda: x << y, ALU_RSH: lambda: x >> y,
        ALU_ARSH: lambda: sx >> y, ALU_NEG: lambda: -x,
    }[op]() & m


OPS = [ALU_ADD, ALU_SUB, ALU_MUL, ALU_AND, ALU_OR, ALU_XOR, ALU_NEG]
SHIFTS = [ALU_LSH, ALU_RSH, ALU_ARSH]


@settings(max_examples=400)
@given(st.sampled_from(OPS), value_sets, value_sets, st.booleans())
def test_alu_transfer_is_sound(op, xs, ys, alu32):
    bits = 32 if alu32 else 64
    for x in xs:
        for y in ys:
            dst, src = abstract(xs), abstract(ys)
            adjust_scalar_min_max_vals(op, dst, dst if op == ALU_NEG else src, alu32)
            want = _alu(op, x, x if op == ALU_NEG else y, bits)
            assert contains(dst, want), (op, alu32, x, y, hex(want), describe(dst))


@settings(max_examples=300)
@given(st.sampled_from(SHIFTS), value_sets, st.integers(0, 63), st.booleans())
def test_shift_by_constant_is_sound(op, xs, shift, alu32):
    bits = 32 if alu32 else 64
    shift %= bits
    for x in xs:
        dst, src = abstract(xs), abstract([shift])
        adjust_scalar_min_max_vals(op, dst, src, alu32)
        want = _alu(op, x, shift, bits)
        assert contains(dst, want), (op, alu32, x, shift, hex(want), describe(dst))


@settings(max_examples=200)
@given(value_sets, st.sampled_from([1, 2, 4]))
def test_narrowing_is_sound(xs, size):
    m = (1 << (8 * size)) - 1
    for x in xs:
        r = abstract(xs)
        coerce_reg_to_size(r, size)
        assert contains(r, x & m)
        r = abstract(xs)
        coerce_reg_to_size_sx(r, size)
        v = x & m
        v = v - (1 << (8 * size)) if v >> (8 * size - 1) else v
        assert contains(r, v & U64), (x, size, describe(r))


def _cond(op: int, x: int, y: int, bits: int) -> bool:
    m = (1 << bits) - 1
    x, y = x & m, y & m
    sx = x - (1 << bits) if x >> (bits - 1) else x
    sy = y - (1 << bits) if y >> (bits - 1) else y
    return {JEQ: x == y, JNE: x != y, JGT: x > y, JGE: x >= y, JLT: x < y, JLE: x <= y, JSGT: sx > sy,
            JSGE: sx >= sy, JSLT: sx < sy, JSLE: sx <= sy, JSET: bool(x & y)}[op]


CONDS = [JEQ, JNE, JGT, JGE, JLT, JLE, JSGT, JSGE, JSLT, JSLE, JSET]


@settings(max_examples=500)
@given(st.sampled_from(CONDS), value_sets, value_sets, st.booleans())
def test_branch_refinement_is_sound(op, xs, ys, jmp32):
    bits = 32 if jmp32 else 64
    pred = is_branch_taken(abstract(xs), abstract(ys), op, jmp32)
    for x in xs:
        for y in ys:
            taken = _cond(op, x, y, bits)
            if pred == 1:
                assert taken, (op, x, y)
            elif pred == 0:
                assert not taken, (op, x, y)
            t1, t2, f1, f2 = abstract(xs), abstract(ys), abstract(xs), abstract(ys)
            reg_set_min_max(t1, t2, f1, f2, op, jmp32)
            if taken:
                assert contains(t1, x) and contains(t2, y), (op, jmp32, x, y, describe(t1), describe(t2))
            else:
                assert contains(f1, x) and contains(f2, y), (op, jmp32, x, y, describe(f1), describe(f2))


@settings(max_examples=300)
@given(value_sets)
def test_bounds_sync_keeps_members(xs):
    r = abstract(xs)
    reg_bounds_sync(r)
    for x in xs:
        assert contains(r, x)


def test_constants_fold():
    dst, src = abstract([5]), abstract([7])
    adjust_scalar_min_max_vals(ALU_MUL, dst, src, False)
    assert dst.var_off.is_const and dst.var_off.value == 35 and dst.umin == dst.umax == 35
    r = abstract([0, 0xFF])
    assert (r.umin, r.umax, r.var_off.mask) == (0, 0xFF, 0xFF)
