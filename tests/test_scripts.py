"""The project's own scripts: the kernel-matrix runner and its selection stay consistent with the tree."""
from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SCRIPTS = ROOT / "scripts"


def _selection() -> list[str]:
    lines = (SCRIPTS / "matrix-tests.txt").read_text().splitlines()
    return [ln.split()[0] for ln in lines if ln.strip() and not ln.lstrip().startswith("#")]


def test_matrix_selection_leaves_kernels_out_by_entry():
    """`PATH not=K` entries are left out of kernel K's run only (kernel-matrix.sh's selection_for)."""
    script = (f'source <(sed -n "/^selection_for()/,/^}}/p" {SCRIPTS / "kernel-matrix.sh"}); HERE={SCRIPTS}; '
              'selection_for bullseye:5.10; echo ==; selection_for 6.1')
    out = subprocess.run(["bash", "-c", script], capture_output=True, text=True, check=True).stdout
    for_510, for_61 = (part.split() for part in out.split("=="))
    assert for_61 == _selection()
    left_out = [ln.split()[0] for ln in (SCRIPTS / "matrix-tests.txt").read_text().splitlines()
                if "not=bullseye:5.10" in ln and not ln.lstrip().startswith("#")]
    assert left_out and for_510 == [p for p in _selection() if p not in left_out]


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
