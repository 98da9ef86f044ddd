"""Histogram probes: lhist, and log2/linear histograms per key (tests/probe/test_probe_hist.py)."""
from __future__ import annotations

import ctypes

from pyebpf.probe import LinearHistogram, Log2Histogram, comm, probe, u32

lin = LinearHistogram(0, 100, 10, name="h_lin")
by_key = Log2Histogram(key=u32, name="h_log2_key")
lin_by_comm = LinearHistogram(10, 50, 20, key=ctypes.c_char * 16, name="h_lin_comm")


@probe("raw_tp/sys_enter")
def record(ctx):
    v = ctx.args[0]
    lin.record(v)
    by_key.record(v, u32(ctx.args[1]))
    lin_by_comm.record(v, comm())
