"""The project's own scripts: the kernel-matrix runner and its selection stay consistent with the tree."""
from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SCRIPTS = ROOT / "scripts"


def _selection() -> list[str]:
    lines = (SCRIPTS / "matrix-tests.txt").read_text().splitlines()
    return [ln.strip() for ln in lines if ln.strip() and not ln.lstrip().startswith("#")]


def test_matrix_selection_names_existing_test_files():
    """A renamed or deleted test file must not silently drop out of the kernel matrix."""
    selection = _selection()
    assert selection
    missing = [p for p in selection if not (ROOT / p.split("::")[0]).exists()]
    assert not missing, f"scripts/matrix-tests.txt names files that do not exist: {missing}"


@pytest.mark.parametrize("script", sorted(p.name for p in SCRIPTS.glob("*.sh")))
def test_shell_scripts_parse(script):
    r = subprocess.run(["bash", "-n", str(SCRIPTS / script)], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr


def test_kernel_vm_without_a_command_is_a_usage_error():
    r = subprocess.run(["bash", str(SCRIPTS / "kernel-vm.sh"), "-k", "6.1"], capture_output=True, text=True)
    assert r.returncode == 2 and "no command given" in r.stderr
