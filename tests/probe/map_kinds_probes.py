"""Probes using perf event arrays, prog arrays (tail calls) and LPM tries (tests/probe/test_probe_map_kinds.py)."""
from __future__ import annotations

import ctypes

from pyebpf.probe import Array, LpmTrie, PerfEventArray, ProgArray, RingBuf, XDP_DROP, XDP_PASS, probe, u64


class Event(ctypes.Structure):
    _fields_ = [("a", ctypes.c_uint64), ("b", ctypes.c_uint32), ("tag", ctypes.c_uint32)]


events = PerfEventArray(Event, name="mk_events")
hits = Array(u64, max_entries=4, name="mk_hits")
progs = ProgArray(4, name="mk_progs")


@probe("raw_tp/sys_enter")
def emit(ctx):
    events.output(Event(a=ctx.args[0], b=u64(ctx.args[1]) * 2, tag=7))


class Blob(ctypes.Structure):
    """120 bytes: with its 8-byte ring header a record takes 128 of the 4 KiB ring."""
    _fields_ = [("seq", ctypes.c_uint64)] + [(f"p{i}", ctypes.c_uint64) for i in range(14)]


small_ring = RingBuf(Blob, 1 << 12, name="mk_small_ring")
fill = Array(u64, max_entries=4, name="mk_fill")


@probe("raw_tp/sys_enter")
def fill_ring(ctx):
    """Outputs until the ring refuses: fill[0] = records written, fill[1] = the first failure's value."""
    ok = 0
    first_err = 0
    for i in range(48):
        r = small_ring.output(Blob(seq=i))
        if r == 0:
            ok += 1
        elif first_err == 0:
            first_err = r
    fill[0] = ok
    fill[1] = first_err


@probe("raw_tp/sys_enter")
def entry(ctx):
    hits[0] += 1
    progs.call(ctx.args[0])   # does not come back when slot args[0] holds a program
    hits[1] += 1              # only reached when the slot is empty
    return 1


@probe("raw_tp/sys_enter")
def second(ctx):
    hits[2] += ctx.args[1]
    return 2


class V4Key(ctypes.Structure):
    _fields_ = [("prefixlen", ctypes.c_uint32), ("addr", ctypes.c_uint8 * 4)]


class V4Packet(ctypes.BigEndianStructure):
    _pack_ = 1
    _fields_ = [("eth", ctypes.c_uint8 * 14), ("vihl", ctypes.c_uint8), ("tos", ctypes.c_uint8),
                ("len", ctypes.c_uint16), ("id", ctypes.c_uint16), ("frag", ctypes.c_uint16),
                ("ttl", ctypes.c_uint8), ("proto", ctypes.c_uint8), ("csum", ctypes.c_uint16),
                ("saddr", ctypes.c_uint8 * 4), ("daddr", ctypes.c_uint8 * 4)]


blocked = LpmTrie(V4Key, u64, max_entries=64, name="mk_blocked")


@probe("xdp")
def lpm_filter(ctx):
    ip = ctx.header(V4Packet)
    k = V4Key(prefixlen=32, addr=ip.saddr)
    rule = blocked.get(k, 0)
    if rule != 0:
        return XDP_DROP
    return XDP_PASS
