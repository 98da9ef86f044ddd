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


# ---- keys held in local variables: lookups are reused (pyfront/lookups.py) while nothing changes them ----------
NAMES = st.integers(0, 2)
NAMED_OPS = st.lists(st.one_of(
    st.tuples(st.just("set"), NAMES, VALUES), st.tuples(st.just("add"), NAMES, VALUES),
    st.tuples(st.just("del"), NAMES, st.just(0)), st.tuples(st.just("read"), NAMES, st.just(0)),
    st.tuples(st.just("inread"), NAMES, st.just(0)), st.tuples(st.just("in"), NAMES, st.just(0)),
    st.tuples(st.just("rebind"), NAMES, KEYS), st.tuples(st.just("ifset"), NAMES, VALUES),
), min_size=1, max_size=14)


def build_named(ops):
    """k0..k2 are local variables holding keys; `rebind` points one at another key."""
    lines = ["from pyebpf.probe import probe, HashMap, Array, u32, u64",
             'm = HashMap(u32, u64, max_entries=16, name="m")',
             'seen = Array(u64, max_entries=16, name="seen")', "",
             '@probe("raw_tp/sys_enter")', "def f(ctx):", "    base = u32(ctx.args[0])",
             "    k0 = base", "    k1 = base + 1", "    k2 = base + 2"]
    for i, (op, n, v) in enumerate(ops):
        k = f"k{n}"
        lines += {
            "set": [f"    m[{k}] = {v}"],
            "add": [f"    m[{k}] += {v}"],
            "del": [f"    if {k} in m:", f"        del m[{k}]"],
            "read": [f"    seen[{i}] = m[{k}]"],
            "inread": [f"    if {k} in m:", f"        seen[{i}] = m[{k}] + 1", f"        seen[{i}] += m[{k}]"],
            "in": [f"    seen[{i}] = {k} in m"],
            "rebind": [f"    {k} = base + {v}"],
            "ifset": [f"    if {k} in m:", f"        m[{k}] = {v}", f"        seen[{i}] = m[{k}]",
                      f"    seen[{i}] += m.get({k}, 1)"],
        }[op]
    lines.append("    return 0")
    path = os.path.join(_DIR, f"n{uuid.uuid4().hex}.py")
    with open(path, "w") as fh:
        fh.write("\n".join(lines) + "\n")
    return load_module(path)


def model_named(ops):
    m: dict[int, int] = {}
    seen: dict[int, int] = {}
    bind = [0, 1, 2]
    for i, (op, n, v) in enumerate(ops):
        k = bind[n]
        if op == "set":
            m[k] = v & M64
        elif op == "add":
            m[k] = (m.get(k, 0) + v) & M64
        elif op == "del":
            m.pop(k, None)
        elif op == "read":
            seen[i] = m.get(k, 0)
        elif op == "inread":
            if k in m:
                seen[i] = (2 * m[k] + 1) & M64
        elif op == "in":
            seen[i] = int(k in m)
        elif op == "rebind":
            bind[n] = v
        else:
            if k in m:
                m[k] = v & M64
                seen[i] = v & M64
            seen[i] = (seen.get(i, 0) + m.get(k, 1)) & M64
    return m, {i: v for i, v in seen.items() if v}


@settings(max_examples=40)
@given(NAMED_OPS)
def test_named_keys_vm_matches_dict(ops):
    mod = build_named(ops)
    for engine in ("interp", "compiled"):
        mod.m.clear()
        mod.seen.clear()
        mod.f.run(args=[BASE], engine=engine)
        assert observed(mod) == model_named(ops), engine


@pytest.mark.kernel
@settings(max_examples=15)
@given(NAMED_OPS)
def test_named_keys_kernel_matches_dict(ops):
    mod = build_named(ops)
    with mod.f.load(attach=False) as lp:
        lp.run(args=[BASE])
        got = observed(mod)
    assert got == model_named(ops)
