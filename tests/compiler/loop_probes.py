"""`for` loops over large or unknown counts, compiled three ways (pyfront/loops.py): bpf_loop callbacks, may_goto
and the bounded loop. The same functions run as plain Python (test_compile_loops.py compares them)."""
from __future__ import annotations

import ctypes

from pyebpf.probe import Array, HashMap, Probe, s64, u32, u64

res = Array(u64, max_entries=8, name="res")
cells = HashMap(u32, u64, max_entries=8, name="loop_cells")
STRATEGIES = {"bpf_loop": {"bpf_loop"}, "may_goto": {"may_goto"}, "bounded": set()}


def sum_loop(ctx):
    """break, continue, a captured accumulator and a captured read-only factor, `return` from inside the loop."""
    n = u32(ctx.args[0])
    k = u64(ctx.args[1])
    stop_at = u32(ctx.args[2])
    total: u64 = 0
    count = 0
    for i in range(n):
        if i == stop_at:
            break
        if i % 3 == 0:
            continue
        total += i * k
        count += 1
        if total > 50000000:
            res[2] = count
            return 7
    res[0] = total
    res[1] = count
    return 1


def stepped(ctx):
    """range(start, stop, step) with a negative step and unknown ends; a small bounded loop nested in the body."""
    a = s64(ctx.args[0])
    b = s64(ctx.args[1])
    acc: s64 = 0
    for i in range(a, b, -3):
        for j in range(3):
            acc += i - j
    res[3] = u64(acc)
    return 0


class Pair(ctypes.Structure):
    _fields_ = [("a", ctypes.c_uint64), ("b", ctypes.c_uint64)]


def struct_local(ctx):
    """The body uses a struct on the probe's stack: not a bpf_loop callback (falls back to may_goto/bounded)."""
    n = u32(ctx.args[0]) & 0xFFFFF
    p = Pair(a=0, b=0)
    for i in range(n):
        if i >= 2000:
            break
        p.a += i
    res[4] = p.a
    return 0


def small_masked(ctx):
    """A count the front end knows is below 1024 (x & 1023): stays a bounded loop whatever the kernel offers."""
    total: u64 = 0
    for i in range(u32(ctx.args[0]) & 1023):
        total += i
    res[5] = total
    return 0


def map_in_loop(ctx):
    """A lookup made before the loop must not be reused after it: the body (a callback) deletes and re-inserts."""
    n = u32(ctx.args[0])
    k = u32(1)
    cells[k] = 5
    res[6] = cells[k]
    for i in range(n):
        if i == 0:
            del cells[k]
        cells[k] = 100 + i
    res[7] = cells[k]
    return 0


def probes(fn, section="raw_tp/sys_enter"):
    """fn compiled for each strategy: {strategy: Probe}."""
    return {name: Probe(fn, section, name=f"{fn.__name__[:8]}_{name[:6]}", loops=feats)
            for name, feats in STRATEGIES.items()}


SUM = probes(sum_loop)
STEPPED = probes(stepped)
STRUCT = probes(struct_local)
SMALL = probes(small_masked)
MAPS = probes(map_in_loop)
