"""examples/offcpu.py: the accumulation in the VM, and a sleeping child's off-CPU time in the kernel."""
from __future__ import annotations

import re
import subprocess
import sys

import pytest
from hypothesis import given, settings, strategies as st

from example_runner import import_example, run_example

example = import_example("offcpu")
PROGRAM = example.build()

SLEEPER = """
import ctypes, sys, time
ctypes.CDLL(None).prctl(15, b'offcpu-sleeper', 0, 0, 0)
sys.stdout.write('ready\\n'); sys.stdout.flush()
while True:
    time.sleep(0.1)
"""


@pytest.mark.parametrize("engine", ["interp", "compiled"])
def test_vm_accumulates_switch_out_to_switch_in(engine):
    from pyebpf import VM
    from pyebpf.vm.context import TracepointContext
    from pyebpf.vm.env import Environment

    clock = iter([1_000, 5_000, 6_000, 10_500, 11_000])
    vm = VM(example.build(), env=Environment(time_ns=lambda: next(clock)), engine=engine)
    rec = example.switch_record
    vm.run(TracepointContext(rec(100, 0, b"swapper/0", b"sleeper")))     # 100 out at 1000
    vm.run(TracepointContext(rec(0, 100, b"sleeper")))                    # 100 in at 5000: +4000
    vm.run(TracepointContext(rec(100, 200, b"worker", b"sleeper")))       # 100 out at 6000; 200 never went out
    vm.run(TracepointContext(rec(0, 100, b"sleeper")))                    # 100 in at 10500: +4500
    vm.run(TracepointContext(rec(0, 0, b"swapper/0")))                    # idle to idle: nothing
    assert example.table(vm.maps["offcpu"]) == {100: ("sleeper", 8500)}
    assert dict(vm.maps["switched_out"]) == {}


def test_table_is_sorted_largest_first():
    text = example.format_table({1: ("a", 5_000_000), 2: ("b", 9_000_000), 3: ("c", 1)}, top=2)
    assert [l.split()[0] for l in text.splitlines()[1:]] == ["2", "1"]


@pytest.mark.kernel
def test_sleeping_child_is_mostly_off_cpu():
    child = subprocess.Popen([sys.executable, "-c", SLEEPER], stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout.readline() == "ready\n"
        out = run_example("offcpu", "--seconds", "1.5", "--pid", str(child.pid))
    finally:
        child.kill()
        child.wait()
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[0] == "vm: pid 100 (sleeper) off-CPU 4000 ns"
    rows = [l for l in lines if re.match(rf"\s*{child.pid}\s", l)]
    assert len(rows) == 1, out.stdout
    _, comm, ms = rows[0].split()
    assert comm == "offcpu-sleeper"
    # ~15 sleeps of 100 ms in 1.5 s: the time counted is between switch-ins inside the window
    assert 900 <= float(ms) <= 1600, rows[0]


PIDS = st.sampled_from([0, 100, 200, 300])


@settings(max_examples=40, deadline=None)
@given(switches=st.lists(st.tuples(PIDS, PIDS, st.integers(1, 10**9)), max_size=20))
def test_vm_matches_a_model_on_any_switch_sequence(switches):
    """Random sched_switch streams (idle included, a task switching to itself too): totals as the model says."""
    from pyebpf import VM
    from pyebpf.vm.context import TracepointContext
    from pyebpf.vm.env import Environment

    times = []
    now = 0
    for _, _, dt in switches:
        now += dt
        times.append(now)
    clock = iter(times)
    vm = VM(PROGRAM, env=Environment(time_ns=lambda: next(clock)))
    out_at: dict[int, int] = {}
    totals: dict[int, int] = {}
    for (prev, nxt, _), t in zip(switches, times):
        vm.run(TracepointContext(example.switch_record(prev, nxt, f"task{nxt}".encode())))
        if prev:
            out_at[prev] = t
        if nxt and nxt in out_at:
            totals[nxt] = totals.get(nxt, 0) + t - out_at.pop(nxt)
    assert {pid: ns for pid, (_, ns) in example.table(vm.maps["offcpu"]).items()} == totals
    assert {k: v for k, v in vm.maps["switched_out"].items()} == out_at
