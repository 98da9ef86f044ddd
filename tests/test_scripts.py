"""The project's own scripts: the kernel-matrix runner and its selection stay consistent with the tree."""
from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SCRIPTS = ROOT / "scripts"


def _entries() -> list[tuple[str, set[str]]]:
    """matrix-tests.txt's entries: the test path and the kernels its `not=K1,K2` leaves it out for."""
    out = []
    for ln in (SCRIPTS / "matrix-tests.txt").read_text().splitlines():
        if not ln.strip() or ln.lstrip().startswith("#"):
            continue
        path, *rest = ln.split()
        left_out = {k for word in rest if word.startswith("not=") for k in word[len("not="):].split(",")}
        out.append((path, left_out))
    return out


def _selection() -> list[str]:
    return [path for path, _ in _entries()]


def test_matrix_selection_leaves_kernels_out_by_entry():
    """`PATH not=K` entries are left out of kernel K's run only (kernel-matrix.sh's selection_for)."""
    kernels = ("bullseye:5.10", "6.1", "6.12")
    script = (f'source <(sed -n "/^selection_for()/,/^}}/p" {SCRIPTS / "kernel-matrix.sh"}); HERE={SCRIPTS}; '
              + "; echo ==; ".join(f"selection_for {k}" for k in kernels))
    out = subprocess.run(["bash", "-c", script], capture_output=True, text=True, check=True).stdout
    entries = _entries()
    assert any(left_out for _, left_out in entries)
    for kernel, got in zip(kernels, (part.split() for part in out.split("=="))):
        assert got == [path for path, left_out in entries if kernel not in left_out], kernel
    assert len(out.split("==")[2].split()) == len(entries)  # nothing is left out of the newest guest


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
