"""`pyebpf demo` is the main job: it must run end to end and agree with the kernel where bpf() is permitted."""
from __future__ import annotations

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
    assert "assembled XDP program" in out and "verifier: xdp accepted" in out
    assert "VM (interp)" in out and "VM (compiled)" in out
    assert "udp/9 (dropped): 1" in out and "udp/53 (passed): 2" in out
    assert "Traceback" not in proc.stderr


@pytest.mark.kernel
def test_demo_with_kernel_loads_and_agrees():
    proc = run_demo()
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "BPF_PROG_TEST_RUN agrees with the VM" in proc.stdout
    assert "openat counter attached" in proc.stdout
