"""examples/printk_write_by_pid.py: the PID filter in the VM, and the probe on a child process's writes."""
from __future__ import annotations

import re
import subprocess
import sys

import pytest

from example_runner import import_example, run_example

example = import_example("printk_write_by_pid")

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
