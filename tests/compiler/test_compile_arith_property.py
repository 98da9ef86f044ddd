"""Random integer expressions: compiled and run (both VM engines, and the kernel) vs an evaluation in Python with C
semantics written here independently of the compiler: integer promotion, the usual arithmetic conversions,
wrap-around, division truncating toward zero with x / 0 = 0 and x % 0 = x (eBPF's definition), shift counts
modulo the width, comparisons giving int 0/1, `a if c else b` in the common type."""
from __future__ import annotations

import os
import tempfile
import uuid

import pytest
from hypothesis import given, settings, strategies as st

from pyebpf.isa.features import kernel_takes
from pyebpf.probe.module import load_module

# (name, bits, signed)
TYPES = {"u8": (8, False), "u16": (16, False), "u32": (32, False), "u64": (64, False),
         "s8": (8, True), "s16": (16, True), "s32": (32, True), "s64": (64, True)}
VARS = {"a": "u64", "b": "s64", "c": "u32", "d": "s32", "e": "u8", "f": "s16"}
M64 = (1 << 64) - 1


def wrap(t: str, v: int) -> int:
    bits, signed = TYPES[t]
    v &= (1 << bits) - 1
    return v - (1 << bits) if signed and v >> (bits - 1) else v


def promote(t: str) -> str:
    return "s32" if TYPES[t][0] < 32 else t


def usual(x: str, y: str) -> str:
    x, y = promote(x), promote(y)
    if TYPES[x][0] != TYPES[y][0]:
        return x if TYPES[x][0] > TYPES[y][0] else y
    return x if not TYPES[x][1] else y


def literal_type(v: int) -> str:
    return "s32" if v < 1 << 31 else ("s64" if v < 1 << 63 else "u64")


def ref(node, env) -> tuple[int, str]:
    kind = node[0]
    if kind == "lit":
        t = literal_type(node[1])
        return wrap(t, node[1]), t
    if kind == "var":
        t = VARS[node[1]]
        return wrap(t, env[node[1]]), t
    if kind == "cast":
        v, _ = ref(node[2], env)
        return wrap(node[1], v), node[1]
    if kind == "un":
        v, t = ref(node[2], env)
        t = promote(t)
        return wrap(t, -v if node[1] == "-" else ~v), t
    if kind == "if":
        c, _ = ref(node[1], env)
        x, tx = ref(node[2], env)
        y, ty = ref(node[3], env)
        t = usual(tx, ty)
        return wrap(t, x if c else y), t
    op = node[1]
    a, ta = ref(node[2], env)
    b, tb = ref(node[3], env)
    if op in ("<<", ">>"):
        t = promote(ta)
        count = b & (TYPES[t][0] - 1)
        a = wrap(t, a)
        return wrap(t, a << count if op == "<<" else a >> count), t
    t = usual(ta, tb)
    a, b = wrap(t, a), wrap(t, b)
    if op in ("<", "<=", "==", "!=", ">", ">="):
        r = {"<": a < b, "<=": a <= b, "==": a == b, "!=": a != b, ">": a > b, ">=": a >= b}[op]
        return int(r), "s32"
    if op == "//":
        r = 0 if b == 0 else (abs(a) // abs(b)) * (1 if (a < 0) == (b < 0) else -1)
    elif op == "%":
        r = a if b == 0 else a - b * ((abs(a) // abs(b)) * (1 if (a < 0) == (b < 0) else -1))
    else:
        r = {"+": a + b, "-": a - b, "*": a * b, "&": a & b, "|": a | b, "^": a ^ b}[op]
    return wrap(t, r), t


def render(node) -> str:
    kind = node[0]
    if kind == "lit":
        return str(node[1])
    if kind == "var":
        return node[1]
    if kind == "cast":
        return f"{node[1]}({render(node[2])})"
    if kind == "un":
        return f"({node[1]}{render(node[2])})"
    if kind == "if":
        return f"({render(node[2])} if {render(node[1])} else {render(node[3])})"
    return f"({render(node[2])} {node[1]} {render(node[3])})"


BINOPS = ["+", "-", "*", "//", "%", "<<", ">>", "&", "|", "^", "<", "<=", "==", "!=", ">", ">="]
literals = st.one_of(st.integers(0, 70), st.sampled_from([127, 128, 255, 256, 65535, 2 ** 31 - 1, 2 ** 31, 2 ** 32 - 1,
                                                          2 ** 32, 2 ** 63 - 1, 2 ** 63, 2 ** 64 - 1]))
leaves = st.one_of(st.tuples(st.just("lit"), literals), st.tuples(st.just("var"), st.sampled_from(sorted(VARS))))
exprs = st.recursive(leaves, lambda sub: st.one_of(
    st.tuples(st.just("bin"), st.sampled_from(BINOPS), sub, sub),
    st.tuples(st.just("un"), st.sampled_from(["-", "~"]), sub),
    st.tuples(st.just("cast"), st.sampled_from(sorted(TYPES)), sub),
    st.tuples(st.just("if"), sub, sub, sub),
), max_leaves=8)
inputs = st.fixed_dictionaries({v: st.one_of(st.integers(0, M64), st.sampled_from(
    [0, 1, 2, 3, 7, M64, M64 - 1, 1 << 63, (1 << 63) - 1, 1 << 31, (1 << 31) - 1, 0xFFFFFFFF, 0x80, 0xFF, 0x8000]))
    for v in sorted(VARS)})

_DIR = tempfile.mkdtemp(prefix="pyebpf-arith-")
_ORDER = sorted(VARS)


def build(expr) -> object:
    """A module with one raw_tp probe computing out[0] = u64(EXPR) from ctx.args, and `g`, computing it in a
    bpf-to-bpf subprogram (parameters a..d typed, e and f packed in the fifth: at most five arguments)."""
    lines = ["from pyebpf.probe import probe, Array, noinline, u8, u16, u32, u64, s8, s16, s32, s64",
             'out = Array(u64, max_entries=1, name="out")',
             "", '@probe("raw_tp/sys_enter")', "def f(ctx):"]
    for i, v in enumerate(_ORDER):
        lines.append(f"    {v} = {VARS[v]}(ctx.args[{i}])")
    lines.append(f"    out[0] = u64({render(expr)})")
    lines.append("    return 0")
    lines += ["", "", "@noinline",
              "def sub(a: u64, b: s64, c: u32, d: s32, ef: u64) -> u64:",
              "    e = u8(ef)", "    f = s16(ef >> 8)", f"    return u64({render(expr)})",
              "", "", '@probe("raw_tp/sys_enter")', "def g(ctx):",
              "    out[0] = sub(ctx.args[0], ctx.args[1], ctx.args[2], ctx.args[3],",
              "                 u64(u8(ctx.args[4])) | u64(u16(ctx.args[5])) << 8)", "    return 0"]
    path = os.path.join(_DIR, f"m{uuid.uuid4().hex}.py")
    with open(path, "w") as fh:
        fh.write("\n".join(lines) + "\n")
    return load_module(path)


def expected(expr, env) -> int:
    v, _ = ref(expr, env)
    return v & M64


@settings(max_examples=60)
@given(exprs, inputs)
def test_vm_matches_c_semantics(expr, env):
    mod = build(expr)
    args = [env[v] for v in _ORDER]
    want = expected(expr, env)
    for engine in ("interp", "compiled"):
        mod.out.clear()
        mod.f.run(args=args, engine=engine)
        assert mod.out[0] == want, (render(expr), engine)
        mod.out.clear()
        mod.g.run(args=args, engine=engine)
        assert mod.out[0] == want, (render(expr), engine, "in a subprogram")
    # the same without Linux 6.6's instructions (sign extension by shifts, signed division expanded)
    mod.f.cpu_v4, mod.f._compiled = False, None
    assert kernel_takes(mod.f.program.instructions, (6, 1))
    mod.out.clear()
    mod.f.run(args=args)
    assert mod.out[0] == want, (render(expr), "cpu v3")


@pytest.mark.kernel
@settings(max_examples=25)
@given(exprs, inputs)
def test_kernel_matches_c_semantics(expr, env):
    mod = build(expr)
    args = [env[v] for v in _ORDER]
    got = []
    for v4 in (True, False):
        mod.f.cpu_v4, mod.f._compiled = v4, None
        with mod.f.load(attach=False, verify=False) as lp:
            lp.run(args=args)
            got.append(mod.out[0])
    assert got == [expected(expr, env)] * 2, render(expr)
    with mod.g.load(attach=False, verify=False) as lp:
        lp.run(args=args)
        assert mod.out[0] == expected(expr, env), (render(expr), "in a subprogram")


def lhist_bucket(v: int, lo: int, hi: int, step: int) -> int:
    """LinearHistogram's bucket of v (as s64): 0 below lo, 1 + (v - lo) // step, the last from hi on."""
    v = wrap("s64", v)
    if v < lo:
        return 0
    if v >= hi:
        return (hi - lo + step - 1) // step + 1
    return 1 + (v - lo) // step


def build_lhist(lo: int, hi: int, step: int) -> object:
    path = os.path.join(_DIR, f"h{uuid.uuid4().hex}.py")
    with open(path, "w") as fh:
        fh.write("from pyebpf.probe import probe, LinearHistogram, u64, s32\n"
                 f"h = LinearHistogram({lo}, {hi}, {step})\n"
                 '@probe("raw_tp/sys_enter")\ndef f(ctx):\n'
                 "    h.record(ctx.args[0])\n    h.record(s32(ctx.args[1]))\n    return 0\n")
    return load_module(path)


lhist_bounds = st.tuples(st.integers(0, 2000), st.integers(1, 3000), st.integers(1, 300)).filter(
    lambda t: (t[1] - 0) // t[2] <= 1000).map(lambda t: (t[0], t[0] + t[1], t[2])).filter(
    lambda t: (t[1] - t[0]) // t[2] <= 1000)
lhist_values = st.one_of(st.integers(0, 5000), st.integers(0, M64), st.sampled_from([0, M64, 1 << 63, (1 << 63) - 1]))


@settings(max_examples=40)
@given(lhist_bounds, lhist_values, lhist_values)
def test_lhist_buckets_match_reference(bounds, v, w):
    lo, hi, step = bounds
    mod = build_lhist(lo, hi, step)
    want: dict[int, int] = {}
    for x in (v, wrap("s32", w) & M64):
        b = lhist_bucket(x, lo, hi, step)
        want[b] = want.get(b, 0) + 1
    for engine in ("interp", "compiled"):
        mod.h.clear()
        mod.f.run(args=[v, w], engine=engine)
        assert mod.h.buckets() == want, (bounds, v, w, engine)


def test_reference_examples():
    """The reference itself, on cases whose C answer is known."""
    env = {v: 0 for v in VARS}
    assert ref(("bin", "//", ("lit", 7), ("un", "-", ("lit", 2))), env)[0] == -3
    assert ref(("bin", "%", ("un", "-", ("lit", 7)), ("lit", 2)), env)[0] == -1
    assert ref(("bin", "+", ("cast", "u8", ("lit", 255)), ("lit", 1)), env) == (256, "s32")
    assert ref(("bin", "-", ("cast", "u32", ("lit", 0)), ("lit", 1)), env) == (2 ** 32 - 1, "u32")
    assert ref(("bin", "<", ("un", "-", ("lit", 1)), ("cast", "u32", ("lit", 0))), env) == (0, "s32")
