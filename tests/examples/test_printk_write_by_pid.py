"""examples/printk_write_by_pid.py: the PID filter in the VM, and the probe on a child process's writes."""
from __future__ import annotations

import re
import struct
import subprocess
import sys

import pytest
from hypothesis import given, settings, strategies as st

from example_runner import import_example, run_example
from pyebpf.testing.inputs import syscall_args

example = import_example("printk_write_by_pid")
PROGRAM_4321 = example.build(4321)

WRITER = """
import os, sys, time
fd = os.open('/dev/null', os.O_WRONLY)
sys.stdout.write('ready\\n'); sys.stdout.flush()
for _ in range(200):
    os.write(fd, b'y' * 777)
    time.sleep(0.02)
"""


@pytest.mark.parametrize("engine", ["interp", "compiled"])
def test_vm_prints_only_for_the_patched_pid(engine):
    from pyebpf import VM
    from pyebpf.vm.context import SysEnterContext
    from pyebpf.vm.env import Environment

    program = example.build(4321)
    for pid, expected in ((4321, ["write pid=4321 fd=7 count=99\n"]), (4322, [])):
        vm = VM(program, env=Environment(pid=pid, tgid=pid), engine=engine)
        res = vm.run(SysEnterContext(example.SYS_WRITE, [7, 0, 99], pid=pid))
        assert [line if line.endswith("\n") else line + "\n" for line in res.printk] == expected
        assert res.r0 == 0


def test_the_pid_is_a_constant_in_the_program():
    """No map: the filter compares against the patched-in immediate."""
    program = example.build(4321)
    assert not program.maps
    assert any(insn.is_conditional and insn.imm == 4321 for insn in program.instructions)


@pytest.mark.kernel
def test_script_prints_the_childs_writes():
    child = subprocess.Popen([sys.executable, "-c", WRITER], stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout.readline() == "ready\n"
        out = run_example("printk_write_by_pid", str(child.pid), "--seconds", "1.5")
    finally:
        child.kill()
        child.wait()
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[0] == f"vm: write pid={child.pid} fd=1 count=6"
    seen = [l for l in lines if re.search(rf"-{child.pid} [\d.]+: write pid={child.pid} fd=\d+ count=777$", l)]
    # trace_pipe is one reader for the whole machine; a concurrent reader may take some lines, not most of ~70
    assert len(seen) >= 5, out.stdout
    assert all(f"pid={child.pid} " in l for l in lines[2:]), "a line from another process passed the filter"


@settings(max_examples=60, deadline=None)
@given(ctx=syscall_args(syscall=example.SYS_WRITE), pid=st.sampled_from([4321, 1, 4322, 0]))
def test_vm_property_one_line_iff_the_pid_matches(ctx, pid):
    """For any write() arguments: one line with the fd and count as the kernel records them, only for the PID."""
    from pyebpf import VM
    from pyebpf.vm.env import Environment

    vm = VM(PROGRAM_4321, env=Environment(pid=pid, tgid=pid))
    res = vm.run(ctx)
    fd, _, count = struct.unpack_from("<3Q", ctx.raw, 16)
    want = [f"write pid=4321 fd={to_int(fd)} count={to_int(count)}"] if pid == 4321 else []
    assert [line.rstrip("\n") for line in res.printk] == want


def to_int(u64: int) -> int:
    """%d of a u64 argument: bpf_trace_printk prints the low 32 bits as a signed int."""
    v = u64 & 0xFFFFFFFF
    return v - (1 << 32) if v >> 31 else v
