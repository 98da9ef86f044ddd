"""examples/profile.py: a busy C child's function shows up, symbolised, in the 99 Hz on-CPU samples the kernel takes;
--folded and --svg carry the same stacks. Also the sampling attachment itself (one Link over every online CPU)."""
from __future__ import annotations

import ctypes
import os
import shutil
import subprocess
import time

import pytest

from example_runner import import_example, run_example
from pyebpf import R0, Builder
from pyebpf.system.cpus import online_cpus
from pyebpf.system.flamegraph import parse_folded
from pyebpf.testing.plugin import require_or_skip, skip_missing_feature

example = import_example("profile")

BUSY_C = r"""
#include <stdio.h>
#include <time.h>
volatile unsigned long sink;
__attribute__((noinline)) void pyebpf_busy_spin(void) {
    for (unsigned long i = 0; i < 100000; i++) sink += i * i;
}
int main(void) {
    time_t end = time(NULL) + 30;
    printf("ready\n"); fflush(stdout);
    while (time(NULL) < end) pyebpf_busy_spin();
    return 0;
}
"""


@pytest.fixture(scope="module")
def busy_binary(tmp_path_factory) -> str:
    cc = shutil.which("gcc") or shutil.which("cc") or shutil.which("clang")
    if cc is None:
        require_or_skip("no C compiler (gcc, cc or clang) to build the busy child")
    d = tmp_path_factory.mktemp("profile")
    src, exe = d / "busy.c", d / "pyebpf_busy"
    src.write_text(BUSY_C)
    subprocess.run([cc, "-O0", "-fno-omit-frame-pointer", "-o", str(exe), str(src)], check=True)
    return str(exe)


@pytest.fixture
def busy_child(busy_binary):
    child = subprocess.Popen([busy_binary], stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout.readline() == "ready\n"
        yield child
    finally:
        child.kill()
        child.wait()


def test_folded_stacks_put_comm_user_then_kernel_root_first():
    s = example.StackSample(7, "app", kernel=["k_leaf", "k_root"], user=["u_leaf", "main"], value=3)
    assert example.folded_stacks([s]) == {("app", "main", "u_leaf", "-", "k_root", "k_leaf"): 3}
    missed = example.StackSample(7, "app", kernel=[], user=None, value=1)
    assert example.folded_stacks([missed]) == {("app", "[Missed User Stack]"): 1}


def test_default_output_is_bccs_layout():
    s = example.StackSample(42, "app", kernel=["k1"], user=["u1", "main"], value=5)
    assert example.format_stacks([s]).splitlines() == [
        "    k1", "    --", "    u1", "    main", f"    {'-':<16} app (42)", "        5"]


def _cpu_seconds(pid: int) -> float:
    """utime + stime of a process, from /proc/PID/stat."""
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@pytest.mark.kernel
def test_busy_function_is_sampled_and_symbolised(busy_child):
    cpu0, wall0 = _cpu_seconds(busy_child.pid), time.monotonic()
    out = run_example("profile", "--seconds", "1.5", "--pid", str(busy_child.pid), "--folded", timeout=60)
    cpu, wall = _cpu_seconds(busy_child.pid) - cpu0, time.monotonic() - wall0
    assert out.returncode == 0, out.stderr
    stacks = parse_folded(out.stdout)
    assert stacks, out.stdout
    assert all(stack[0] == "pyebpf_busy" for stack in stacks), stacks         # --pid: only the child
    on_spin = sum(n for stack, n in stacks.items() if "pyebpf_busy_spin" in stack)
    total = sum(stacks.values())
    # 99 Hz while the child is on a CPU: ~148 samples in 1.5 s on an idle machine. On a shared one the child gets
    # a share of a CPU; its CPU time over the whole run (start-up included) says which share, so the 1.5 s window
    # holds about cpu * 1.5 / wall seconds of it, nearly all inside pyebpf_busy_spin
    expected = 99 * cpu * 1.5 / wall
    assert 0.4 * expected <= total <= 99 * cpu * 1.2 + 5, (total, expected, cpu, wall)
    assert on_spin >= 0.8 * total, stacks
    # frame pointers kept: the caller is walked too, root first
    assert any(stack[-2:] == ("main", "pyebpf_busy_spin") for stack in stacks), stacks


@pytest.mark.kernel
def test_default_output_and_svg(busy_child, tmp_path):
    svg = tmp_path / "profile.svg"
    out = run_example("profile", "--seconds", "1", "--pid", str(busy_child.pid), "--svg", str(svg), timeout=60)
    assert out.returncode == 0, out.stderr
    assert "    pyebpf_busy_spin" in out.stdout.splitlines()
    assert f"pyebpf_busy ({busy_child.pid})" in out.stdout
    text = svg.read_text()
    assert text.startswith("<svg") and 'data-name="pyebpf_busy_spin"' in text


def _counting_program():
    """perf_event program: counts[0] += 1 per sample."""
    b = Builder("perf_event", name="samples")
    b.map("counts", "array", ctypes.c_uint32, ctypes.c_uint64, 1)
    from pyebpf import R1, R2, R10
    b.store(R10 - 4, 0, "u32").ld_map(R1, "counts").mov(R2, R10).add(R2, -4).call("map_lookup_elem")
    with b.if_(R0 != 0):
        b.mov(R1, 1).atomic_add(R0 + 0, R1)
    return b.ret(0).build()


@pytest.mark.kernel
def test_attach_table_row_samples_every_online_cpu(busy_child):
    from pyebpf.loader import load
    from pyebpf.loader.attach import ATTACHERS, attach
    from pyebpf.abi.prog_types import AttachKind

    assert AttachKind.PERF_EVENT in ATTACHERS
    with load(_counting_program()) as prog:
        with attach(prog, "cpu-clock:200") as link:
            assert link.details["cpus"] == online_cpus() and link.details["freq"] == 200
            time.sleep(0.5)
            n = prog.maps["counts"][0]
        # at least the busy child's CPU: ~100 samples in 0.5 s at 200 Hz
        assert n >= 40, n
        time.sleep(0.2)
        assert prog.maps["counts"][0] - n < 10  # closed: no more samples (a few in flight while closing)


@pytest.mark.kernel
def test_hardware_event_or_missing_feature():
    from pyebpf.loader import load
    from pyebpf.loader.attach import HardwareEventMissing, attach_perf_event

    with load(_counting_program()) as prog:
        try:
            link = attach_perf_event(prog, "cycles", period=1_000_000)
        except HardwareEventMissing as e:
            skip_missing_feature(str(e))
        with link:
            x = 0
            for i in range(300_000):
                x += i
            assert prog.maps["counts"][0] > 0


def test_bad_targets_are_loader_errors():
    from pyebpf.errors import LoaderError
    from pyebpf.loader.attach.sampling import parse_sampling_target

    assert parse_sampling_target("cpu-clock") == ("cpu-clock", 99)
    assert parse_sampling_target("task-clock:49") == ("task-clock", 49)
    for bad in ("nosuch", "cpu-clock:0", "cpu-clock:x", "cpu-clock:-5"):
        with pytest.raises(LoaderError):
            parse_sampling_target(bad)
