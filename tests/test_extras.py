"""The core installs as pure Python: capstone (the [jit] extra) and pyroute2 (the [net] extra) are imported only by
the features that need them, and their absence is a MissingExtraError naming the extra, not an ImportError."""
from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from pyebpf._lazy import optional_import
from pyebpf.errors import LoaderError, MissingExtraError

ROOT = Path(__file__).resolve().parents[1]


def test_core_dependencies_are_pure_python() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    core = " ".join(project["dependencies"])
    assert "capstone" not in core and "pyroute2" not in core
    assert any(d.startswith("capstone") for d in project["optional-dependencies"]["jit"])
    assert any(d.startswith("pyroute2") for d in project["optional-dependencies"]["net"])
    assert ".[test,jit,net,export]" in (ROOT / "scripts" / "setup.sh").read_text()


def test_a_missing_extra_names_it() -> None:
    with pytest.raises(MissingExtraError, match=r"pyebpf-toolkit\[jit\]") as info:
        optional_import("no_such_module_pyebpf_test", "jit", "disassembling JIT code")
    assert isinstance(info.value, LoaderError) and info.value.extra == "jit"


def test_core_works_without_the_extras() -> None:
    """Assemble, verify, simulate and disassemble with capstone and pyroute2 made unimportable; the features that
    need them say which extra to install."""
    code = """
import sys
sys.modules["capstone"] = None
sys.modules["pyroute2"] = None
import pyebpf
from pyebpf.errors import MissingExtraError
prog = pyebpf.assemble("r0 = 2\\nexit")
assert pyebpf.run(prog) == 2
assert pyebpf.verify(prog, "xdp").accepted
assert "exit" in pyebpf.disassemble(prog)
from pyebpf.loader import netlink
try:
    netlink._pyroute2()
except MissingExtraError as e:
    assert "[net]" in str(e)
else:
    raise AssertionError("pyroute2 was importable")
print("ok")
"""
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"
