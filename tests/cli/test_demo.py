"""`pyebpf demo` is the main job: it must run end to end and agree with the kernel where bpf() is permitted."""
from __future__ import annotations

import re
import subprocess
import sys

import pytest


def run_demo(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "pyebpf", "demo", *args], capture_output=True, text=True,
                          timeout=300)


def test_demo_without_kernel_assembles_verifies_and_simulates():
    proc = run_demo("--no-kernel")
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    # it starts with a Python probe, compiled by pyebpf, verified, run in the VM with its map read as a dict
    assert out.startswith("== a probe written in Python") and "def count_openat(ctx):" in out
    assert "verifier: probe count_openat accepted" in out and "verifier: probe drop_discard accepted" in out
    assert "200 cat              3" in out and "100 bash             2" in out
    assert "XDP probe in the VM, both engines: r0 per packet {udp/9 (dropped): 1, udp/53 (passed): 2" in out
    # then the assembly layer underneath
    assert "an XDP program in eBPF assembly" in out and "verifier: xdp accepted" in out
    assert "VM (interp)" in out and "VM (compiled)" in out
    assert "udp/9 (dropped): 1" in out and "udp/53 (passed): 2" in out
    assert "Traceback" not in proc.stderr


@pytest.mark.kernel
def test_demo_with_kernel_loads_and_agrees():
    proc = run_demo()
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "BPF_PROG_TEST_RUN agrees with the VM" in proc.stdout
    assert "XDP probe loaded, BPF_PROG_TEST_RUN agrees with the VM on 3 packets" in proc.stdout
    assert "probe count_openat attached to syscalls/sys_enter_openat" in proc.stdout
    m = re.search(r"kernel verifier: assembled XDP program accepted, (\d+) instructions processed "
                  r"\(pyebpf's verifier: (\d+)\)", proc.stdout)
    assert m and m.group(1) == m.group(2)
