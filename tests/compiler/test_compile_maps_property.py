"""Random sequences of map statements (m[k] = v, m[k] += v, m[k] -= v, m[k] |= v, del m[k], m.get(k, d),
k in m) compiled and run, against a Python dict with u64 wrap-around: both VM engines, and the kernel."""
from __future__ import annotations

import os
import tempfile
import uuid

import pytest
from hypothesis import given, settings, strategies as st

from pyebpf.probe.module import load_module

M64 = (1 << 64) - 1
KEYS = st.integers(0, 3)
VALUES = st.one_of(st.integers(0, 100), st.sampled_from([M64, 1 << 63, 2 ** 32]))
OPS = st.lists(st.one_of(
    st.tuples(st.just("set"), KEYS, VALUES), st.tuples(st.just("add"), KEYS, VALUES),
    st.tuples(st.just("sub"), KEYS, VALUES), st.tuples(st.just("or"), KEYS, VALUES),
    st.tuples(st.just("del"), KEYS, st.just(0)), st.tuples(st.just("get"), KEYS, VALUES),
    st.tuples(st.just("in"), KEYS, st.just(0)),
), min_size=1, max_size=12)
_DIR = tempfile.mkdtemp(prefix="pyebpf-mapprop-")


def build(ops):
    lines = ["from pyebpf.probe import probe, HashMap, Array, u32, u64",
             'm = HashMap(u32, u64, max_entries=16, name="m")',
             'seen = Array(u64, max_entries=16, name="seen")', "",
             '@probe("raw_tp/sys_enter")', "def f(ctx):", "    base = u32(ctx.args[0])"]
    for i, (op, k, v) in enumerate(ops):
        key = f"base + {k}"
        if op == "set":
            lines.append(f"    m[{key}] = {v}")
        elif op in ("add", "sub", "or"):
            sym = {"add": "+", "sub": "-", "or": "|"}[op]
            lines.append(f"    m[{key}] {sym}= {v}")
        elif op == "del":
            lines.append(f"    if {key} in m:\n        del m[{key}]")
        elif op == "get":
            lines.append(f"    seen[{i}] = m.get({key}, {v})")
        else:
            lines.append(f"    seen[{i}] = {key} in m")
    lines.append("    return 0")
    path = os.path.join(_DIR, f"m{uuid.uuid4().hex}.py")
    with open(path, "w") as fh:
        fh.write("\n".join(lines) + "\n")
    return load_module(path)


def model(ops):
    m: dict[int, int] = {}
    seen: dict[int, int] = {}
    for i, (op, k, v) in enumerate(ops):
        if op == "set":
            m[k] = v & M64
        elif op == "add":
            m[k] = (m.get(k, 0) + v) & M64
        elif op == "sub":
            m[k] = (m.get(k, 0) - v) & M64
        elif op == "or":
            m[k] = m.get(k, 0) | v
        elif op == "del":
            m.pop(k, None)
        elif op == "get":
            seen[i] = m.get(k, v & M64)
        else:
            seen[i] = int(k in m)
    return m, {i: v for i, v in seen.items() if v}


BASE = 100


def observed(mod):
    return ({k - BASE: v for k, v in mod.m.items()}, {k: v for k, v in mod.seen.items() if v})


@settings(max_examples=40)
@given(OPS)
def test_vm_matches_dict(ops):
    mod = build(ops)
    for engine in ("interp", "compiled"):
        mod.m.clear()
        mod.seen.clear()
        mod.f.run(args=[BASE], engine=engine)
        assert observed(mod) == model(ops), engine


@pytest.mark.kernel
@settings(max_examples=15)
@given(OPS)
def test_kernel_matches_dict(ops):
    mod = build(ops)
    with mod.f.load(attach=False) as lp:
        lp.run(args=[BASE])
        got = observed(mod)
    assert got == model(ops)
