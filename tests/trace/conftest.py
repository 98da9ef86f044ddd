"""Fixtures the trace tests share."""
from __future__ import annotations

import os
import shutil
import subprocess

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))


@pytest.fixture(scope="session")
def target(tmp_path_factory: pytest.TempPathFactory) -> str:
    """trace_target.c built once: the uprobe/uretprobe/USDT/uaddr() target of the comparisons with bpftrace."""
    cc = shutil.which("cc") or shutil.which("gcc")
    sdt = any(os.path.exists(p) for p in ("/usr/include/sys/sdt.h", "/usr/include/x86_64-linux-gnu/sys/sdt.h"))
    if cc is None or not sdt:
        pytest.skip("needs cc and <sys/sdt.h> (systemtap-sdt-dev; scripts/setup.sh)")
    out = str(tmp_path_factory.mktemp("trace") / "trace_target")
    subprocess.run([cc, "-O1", "-g", "-o", out, os.path.join(HERE, "trace_target.c")], check=True)
    return out
