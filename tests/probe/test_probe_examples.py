"""The Python-probe examples: two probes sharing a map (VM and kernel), printk filtered by a folded constant."""
from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import pytest

from pyebpf.vm.env import Environment

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "probes"
sys.path.insert(0, str(EXAMPLES))
import syscall_latency as lat  # noqa: E402


class Clock:
    """An injected CLOCK_MONOTONIC the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1_000_000

    def __call__(self) -> int:
        return self.now


@pytest.mark.parametrize("engine", ["interp", "compiled"])
def test_latency_histogram_in_vm(engine):
    """A read that takes 5000 ns lands in bucket log2(5000) = 12; the entry is removed from `start`."""
    from pyebpf.compiler.context import Field

    class Formats:
        def tracepoint_fields(self, category, name):
            return [Field("ret", 16, 8, True)] if name.startswith("sys_exit") else [Field("fd", 16, 8)]

    for p in (lat.read_enter, lat.read_exit):
        p.tracepoints, p._compiled = Formats(), None
    try:
        lat.start.clear()
        lat.read_ns.clear()
        clock = Clock()
        env = Environment(pid=9, tgid=9, time_ns=clock)
        lat.read_enter.run(env=env, engine=engine)
        assert list(lat.start.items()) == [(9, 1_000_000)]
        clock.now += 5000
        lat.read_exit.run(env=env, engine=engine)
        assert lat.read_ns.buckets() == {12: 1}
        assert lat.start.items() == []
        lat.read_exit.run(env=env, engine=engine)  # no entry time: nothing counted
        assert lat.read_ns.buckets() == {12: 1}
        # bpftrace 0.17 prints a 16-wide label and an 8-wide count
        assert str(lat.read_ns) == "[4K, 8K)               1 |" + "@" * 52 + "|"
    finally:
        for p in (lat.read_enter, lat.read_exit):
            p.tracepoints, p._compiled = None, None


@pytest.mark.kernel
def test_latency_histogram_in_kernel(tmp_path):
    from pyebpf.probe import load_all

    f = tmp_path / "data"
    f.write_bytes(b"x" * 100)
    lat.start.clear()
    lat.read_ns.clear()
    loaded = load_all([lat.read_enter, lat.read_exit])
    try:
        fd = os.open(str(f), os.O_RDONLY)
        for _ in range(20):
            os.lseek(fd, 0, os.SEEK_SET)
            os.read(fd, 10)  # read(2) itself (os.pread is pread64, another tracepoint)
        os.close(fd)
        time.sleep(0.05)
    finally:
        for lp in loaded:
            lp.close()
    hist = lat.read_ns.buckets()
    assert sum(hist.values()) >= 20, hist       # every read() on the machine is counted, ours among them
    assert all(0 <= bucket < 64 for bucket in hist), hist
    assert str(lat.read_ns).splitlines()[0].startswith("[")


def test_printk_constant_folded(monkeypatch):
    """The module constant TARGET is folded into the compare: only that PID prints."""
    import importlib

    from pyebpf.compiler.context import Field

    monkeypatch.setenv("PID", "4242")
    sys.modules.pop("printk_write_by_pid", None)
    mod = importlib.import_module("printk_write_by_pid")

    class Formats:
        def tracepoint_fields(self, category, name):
            return [Field("fd", 16, 8), Field("buf", 24, 8), Field("count", 32, 8)]

    mod.write_by_pid.tracepoints = Formats()
    assert mod.write_by_pid.run(fd=1, count=6, env=Environment(pid=4242, tgid=4242)).printk == \
        ["write pid=4242 fd=1 count=6"]
    assert mod.write_by_pid.run(fd=1, count=6, env=Environment(pid=7, tgid=7)).printk == []
