"""Probes covering each construct of the language, with the values they must produce.

Every probe is a raw tracepoint program (BPF_PROG_TEST_RUN runs it in the kernel with our args) that writes its
results to `out` and returns a value. CASES lists (probe, args, expected out items, expected r0); the expected
values follow from the language's definition (C integer semantics, docs/probes.md), not from a kernel.
"""
from __future__ import annotations

import ctypes

from pyebpf.probe import Array, HashMap, PerCpuArray, PerCpuHashMap, LruHashMap, probe, s8, s16, s32, s64, u8, u16, \
    u32, u64

out = Array(u64, max_entries=16, name="out")
M64 = (1 << 64) - 1
LIMIT = 5  # a module constant, folded in


@probe("raw_tp/sys_enter")
def arith_u64(ctx):
    a = u64(ctx.args[0])
    b = u64(ctx.args[1])
    out[0] = a + b
    out[1] = a - b
    out[2] = a * b
    out[3] = a // b
    out[4] = a % b
    out[5] = a << 3
    out[6] = a >> 1
    out[7] = a & b
    out[8] = a | b
    out[9] = a ^ b
    out[10] = ~a
    out[11] = -a
    out[12] = a // 0
    out[13] = a % 0
    return 0


@probe("raw_tp/sys_enter")
def arith_signed(ctx):
    a = s64(ctx.args[0])
    b = s32(ctx.args[1])
    out[0] = a // 3
    out[1] = a % 3
    out[2] = b // 2
    out[3] = b >> 1
    out[4] = a >> 2
    out[5] = b * 1000000
    out[6] = s8(a)
    out[7] = u8(a)
    out[8] = s16(b) + 1
    out[9] = u16(a) * u16(a)
    out[10] = u32(a) + 1
    return 0


@probe("raw_tp/sys_enter")
def compare_ops(ctx):
    a = s64(ctx.args[0])
    u = u64(ctx.args[0])
    out[0] = a < 0
    out[1] = u < 0
    out[2] = a == -1
    out[3] = 1 < u32(ctx.args[1]) <= 10
    out[4] = not a
    out[5] = a and 7
    out[6] = 0 or a
    out[7] = a != -1 or u > 5
    return 1 if a < 0 else 2


@probe("raw_tp/sys_enter")
def control_flow(ctx):
    x = u32(ctx.args[0])
    if x > 100:
        kind = 3
    elif x > 10:
        kind = 2
    else:
        kind = 1
    out[0] = kind
    total: u64 = 0
    for i in range(20):
        if i == 12:
            break
        if i % 3 == 0:
            continue
        total += i * x
    out[1] = total
    if x == 0:
        return 99
    out[4] = LIMIT * 2
    return kind


@probe("raw_tp/sys_enter")
def loops(ctx):
    x = u32(ctx.args[0])
    n = 0
    while n < x and n < 50:
        n += 7
    out[2] = n
    steps = 0
    for i in range(1, 10, 3):
        steps += i
    out[3] = steps
    return 0


def clamp(v: u64, hi: u64) -> u64:
    if v > hi:
        return hi
    return v


def scaled(v):
    return clamp(v * 2, 1000) + 1


@probe("raw_tp/sys_enter")
def inlined(ctx):
    a = u64(ctx.args[0])
    out[0] = clamp(a, 50)
    out[1] = scaled(a)
    out[2] = min(a, 7, 9)
    out[3] = max(s64(ctx.args[1]), -3)
    out[4] = abs(s64(ctx.args[1]))
    return scaled(3)


counts = HashMap(u32, u64, max_entries=64, name="counts")
signed_vals = HashMap(u32, s32, max_entries=64, name="svals")
lru = LruHashMap(u64, u64, max_entries=64, name="lru")
pcpu = PerCpuArray(u64, max_entries=4, name="pcpu")
pch = PerCpuHashMap(u32, u32, max_entries=8, name="pch")


class Key(ctypes.Structure):
    _fields_ = [("a", ctypes.c_uint32), ("b", ctypes.c_uint16), ("c", ctypes.c_uint8)]


class Stat(ctypes.Structure):
    _fields_ = [("count", ctypes.c_uint64), ("last", ctypes.c_int32)]


by_key = HashMap(Key, u64, max_entries=64, name="by_key")
stats = HashMap(u32, Stat, max_entries=8, name="stats")


@probe("raw_tp/sys_enter")
def map_ops(ctx):
    k = u32(ctx.args[0])
    counts[k] += 5
    counts[k] += 1
    counts[k + 1] = 40
    counts[k + 1] -= 2
    counts[k + 2] = 3
    del counts[k + 2]
    out[0] = counts[k]
    out[1] = counts.get(k + 1, 0)
    out[2] = counts.get(k + 2, 77)
    out[3] = counts[k + 9]
    out[4] = (k + 1) in counts
    out[5] = (k + 2) in counts
    out[6] = (k + 2) not in counts
    signed_vals[k] = -9
    signed_vals[k] |= 2
    out[7] = signed_vals[k]
    lru[u64(k) * 1000] += 2
    pcpu[1] += 4
    pcpu[7] += 4
    pch[k] += 3
    by_key[Key(k, 2, 3)] += 1
    by_key[Key(a=k, c=9)] += 2
    out[8] = by_key[Key(k, 2, 3)]
    stats[k] = Stat(count=11, last=-1)
    stats[k].count += 4
    stats[k + 1].last -= 3
    out[9] = stats[k].count
    out[10] = stats[k + 1].last
    out[11] = stats[k + 5].count
    return 0


@probe("raw_tp/sys_enter")
def wraps(ctx):
    a = u8(ctx.args[0])
    b: u8 = 250
    b += a
    out[0] = b
    c: s8 = 127
    c += 1
    out[1] = c
    d = a + b
    out[2] = d
    e: u32 = 0xFFFFFFFF
    e = e + 1
    out[3] = e
    f: u16 = 3
    f -= 5
    out[4] = f
    out[5] = 0xFFFFFFFFFFFFFFFF + 2
    return 0


CASES = [
    (arith_u64, [100, 7], {0: 107, 1: 93, 2: 700, 3: 14, 4: 2, 5: 800, 6: 50, 7: 4, 8: 103, 9: 99,
                           10: M64 - 100, 11: (1 << 64) - 100, 12: 0, 13: 100}, 0),
    (arith_u64, [3, 5], {0: 8, 1: M64 - 1, 2: 15, 3: 0, 4: 3, 5: 24, 6: 1, 7: 1, 8: 7, 9: 6, 10: M64 - 3,
                         11: M64 - 2, 12: 0, 13: 3}, 0),
    (arith_signed, [-7 & M64, -9 & M64], {0: -2 & M64, 1: -1 & M64, 2: -4 & M64, 3: -5 & M64, 4: -2 & M64,
                                          5: -9000000 & M64, 6: -7 & M64, 7: 249, 8: -8 & M64, 9: (65529 * 65529 - (1 << 32)) & M64,
                                          10: 0xFFFFFFFA}, 0),
    (compare_ops, [-1 & M64, 5], {0: 1, 1: 0, 2: 1, 3: 1, 4: 0, 5: 7, 6: M64, 7: 1}, 1),
    (compare_ops, [0, 11], {0: 0, 1: 0, 2: 0, 3: 0, 4: 1, 5: 0, 6: 0, 7: 1}, 2),
    (control_flow, [5], {0: 1, 1: 5 * (1 + 2 + 4 + 5 + 7 + 8 + 10 + 11), 4: 10}, 1),
    (control_flow, [200], {0: 3, 1: 200 * 48, 4: 10}, 3),
    (control_flow, [0], {0: 1, 1: 0}, 99),
    (loops, [5], {2: 7, 3: 1 + 4 + 7}, 0),
    (loops, [200], {2: 56, 3: 12}, 0),
    (loops, [0], {2: 0, 3: 12}, 0),
    (inlined, [30, -4 & M64], {0: 30, 1: 61, 2: 7, 3: -3 & M64, 4: 4}, 7),
    (inlined, [900, 8], {0: 50, 1: 1001, 2: 7, 3: 8, 4: 8}, 7),
    (map_ops, [10], {0: 6, 1: 38, 2: 77, 3: 0, 4: 1, 5: 0, 6: 1, 7: -9 & M64, 8: 1, 9: 15, 10: -3 & M64, 11: 0},
     0),
    (wraps, [10], {0: 4, 1: -128 & M64, 2: 14, 3: 0, 4: 65534, 5: 1}, 0),
]


@probe("raw_tp/sys_enter")
def tuple_key(ctx):
    k = u32(ctx.args[0])
    by_key[k, 5, 6] += 10
    out[0] = by_key[Key(k, 5, 6)]
    out[1] = by_key.get((k, 5, 6), 0)
    return 0


CASES.append((tuple_key, [3], {0: 10, 1: 10}, 0))


from pyebpf.probe import log2  # noqa: E402


@probe("raw_tp/sys_enter")
def log2s(ctx):
    a = u64(ctx.args[0])
    out[0] = log2(a)
    out[1] = log2(u32(a))
    out[2] = log2(0)
    out[3] = log2(1)
    out[4] = log2(a + 1)
    return log2(a)


CASES.append((log2s, [1 << 40], {0: 40, 1: 0, 2: 0, 3: 0, 4: 40}, 40))
CASES.append((log2s, [M64], {0: 63, 1: 31, 2: 0, 3: 0, 4: 0}, 63))
CASES.append((log2s, [1000], {0: 9, 1: 9, 2: 0, 3: 0, 4: 9}, 9))


from pyebpf.probe import noinline  # noqa: E402


@noinline
def sub_mix(a: u64, b: u64) -> u64:
    x = a * 31 + b
    for _ in range(3):
        x = x ^ (x >> 3)
    counts[99] += 1                  # maps inside a subprogram
    return x


@noinline
def sub_signed(a: s32) -> s32:
    return a * 3 - s32(sub_mix(u64(a), 1) % 5)   # a subprogram calling another


@probe("raw_tp/sys_enter")
def subprograms(ctx):
    out[0] = sub_mix(ctx.args[0], ctx.args[1])
    out[1] = sub_mix(ctx.args[1], ctx.args[0])
    out[2] = sub_signed(s32(ctx.args[0]))
    out[3] = counts[99]
    return sub_signed(-2)


def _mix(a: int, b: int) -> int:
    x = (a * 31 + b) & M64
    for _ in range(3):
        x ^= x >> 3
    return x


def _signed(a: int) -> int:
    a = (a + 2 ** 31) % 2 ** 32 - 2 ** 31
    return ((a * 3 - _mix(a & M64, 1) % 5) + 2 ** 31) % 2 ** 32 - 2 ** 31


CASES.append((subprograms, [1000, 77], {0: _mix(1000, 77), 1: _mix(77, 1000), 2: _signed(1000) & M64, 3: 3},
              _signed(-2) & M64))
CASES.append((subprograms, [-5 & M64, 2 ** 40], {0: _mix(-5 & M64, 2 ** 40), 1: _mix(2 ** 40, -5 & M64),
                                                  2: _signed(-5) & M64, 3: 3}, _signed(-2) & M64))


from pyebpf.probe import loop  # noqa: E402


def add_square(i: u64) -> s64:      # a bpf_loop callback: state in a map, 1 stops the loop
    out[5] += i * i
    if i == 41:
        return 1
    return 0


@probe("raw_tp/sys_enter")
def looped(ctx):
    out[6] = loop(u32(ctx.args[0]), add_square)
    return 0


CASES.append((looped, [100], {5: sum(i * i for i in range(42)), 6: 42}, 0))
CASES.append((looped, [10], {5: sum(i * i for i in range(10)), 6: 10}, 0))
CASES.append((looped, [0], {}, 0))
