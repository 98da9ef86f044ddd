"""docs/testing.md's worked example runs as written: extracted, saved as a test file, run by pytest."""
from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

DOC = Path(__file__).resolve().parents[2] / "docs" / "testing.md"


def example_source() -> str:
    blocks = re.findall(r"```python\n(.*?)```", DOC.read_text(), re.S)
    assert len(blocks) == 1, "docs/testing.md should have exactly one python example"
    return blocks[0]


def run_example(tmp_path: Path, source: str, *args: str) -> subprocess.CompletedProcess:
    (tmp_path / "test_doc_example.py").write_text(source)
    return subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *args,
                           "test_doc_example.py"],
                          cwd=tmp_path, capture_output=True, text=True, timeout=180)


@pytest.mark.kernel
def test_doc_example_passes(tmp_path):
    out = run_example(tmp_path, example_source())
    assert out.returncode == 0 and "3 passed" in out.stdout, out.stdout + out.stderr


def test_doc_example_catches_a_missing_bounds_check(tmp_path):
    """The doc's property is not vacuous: with the bounds check gone it fails (a VM fault on a short packet)."""
    broken = example_source().replace("    with b.if_(R4 <= R3):\n", "    if True:\n")
    assert broken != example_source()
    out = run_example(tmp_path, broken, "-x", "-k", "in_the_vm")
    assert "VmError" in out.stdout and "failed" in out.stdout.splitlines()[-1], out.stdout[-3000:]
