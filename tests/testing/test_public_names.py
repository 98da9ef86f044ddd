"""pyebpf.testing exports its public names lazily; every one of them resolves, and importing the package (which the
pytest plugin does in every test session) loads neither hypothesis strategies nor the VM or loader."""
from __future__ import annotations

import subprocess
import sys

import pyebpf.testing


def test_every_exported_name_resolves():
    for name in pyebpf.testing.__all__:
        assert getattr(pyebpf.testing, name) is not None, name


def test_plugin_import_is_cheap():
    code = ("import sys, pyebpf.testing, pyebpf.testing.plugin; "
            "print(sorted(m for m in sys.modules if m.startswith(('pyebpf.vm', 'pyebpf.loader', 'hypothesis'))))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
