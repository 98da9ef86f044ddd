"""examples/probes/syscount.py: syscall numbers counted in the VM and in the kernel, named from the headers."""
from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from pyebpf.vm.context import SysEnterContext

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "examples" / "probes"))
import syscount as sc  # noqa: E402


@pytest.mark.parametrize("engine", ["interp", "compiled"])
def test_counts_in_vm(engine):
    from pyebpf.compiler.context import fields_of_text

    fmt = ("name: sys_enter\nID: 1\nformat:\n\tfield:unsigned short common_type;\toffset:0;\tsize:2;\tsigned:0;\n\n"
           "\tfield:long id;\toffset:8;\tsize:8;\tsigned:1;\n"
           "\tfield:unsigned long args[6];\toffset:16;\tsize:48;\tsigned:0;\n\nprint fmt: \"\"\n")

    class Formats:
        def tracepoint_fields(self, category, name):
            return fields_of_text(fmt)

    sc.count_syscalls.tracepoints, sc.count_syscalls._compiled = Formats(), None
    try:
        sc.counts.clear()
        for nr in (0, 1, 1, 257):
            sc.count_syscalls.run(SysEnterContext(nr), engine=engine)
        assert dict(sc.counts.items()) == {0: 1, 1: 2, 257: 1}
    finally:
        sc.count_syscalls.tracepoints, sc.count_syscalls._compiled = None, None


@pytest.mark.kernel
def test_counts_in_kernel():
    names = sc.syscall_names()
    if "getppid" not in names.values():
        pytest.skip("no kernel headers to name syscalls (asm/unistd_64.h)")
    sc.counts.clear()
    with sc.count_syscalls.load():
        for _ in range(50):
            os.getppid()
    by_name = {names.get(nr, nr): n for nr, n in sc.counts.items()}
    assert by_name.get("getppid", 0) >= 50
    assert sc.top(3)
