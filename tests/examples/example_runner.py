"""Helpers for the example tests: import an example module by file name, or run it as a script."""
from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path
from types import ModuleType

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def import_example(name: str) -> ModuleType:
    """examples/<name>.py as a module (not run as __main__)."""
    spec = importlib.util.spec_from_file_location(f"example_{name}", EXAMPLES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module                   # dataclasses look their module up while it executes
    spec.loader.exec_module(module)
    return module


def run_example(name: str, *args: str, timeout: float = 30.0) -> subprocess.CompletedProcess:
    """Run examples/<name>.py as a script (as a user would) and capture its output."""
    return subprocess.run([sys.executable, str(EXAMPLES / f"{name}.py"), *args], capture_output=True, text=True,
                          timeout=timeout)
