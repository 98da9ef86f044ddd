"""The one place a test says which side it runs on; everything after `open_program` is the same call on both.

`open_program(backend, program)` is `pyebpf.VM(program, engine=...)` or `pyebpf.loader.load(program)`. Both have
`.maps[name]` (the dict-like MapFace), `.run(packet=...)` / `.test_run(data)` returning a result with `.r0`,
`.retval`, `.packet`, `.data`, and `close()` / `with`. Nothing else is translated here: a difference a test needs
to paper over is a seam to fix in the library.
"""
from __future__ import annotations

from typing import Any

import pytest

from pyebpf.isa.program import Program

BACKENDS = [
    pytest.param("vm-interp", id="vm-interp"),
    pytest.param("vm-compiled", id="vm-compiled"),
    pytest.param("kernel", id="kernel", marks=pytest.mark.kernel),
]


def open_program(backend: str, program: Program, **kw: Any) -> Any:
    """A VM (interpreter or compiler) or a loaded KernelProgram for `program`."""
    if backend == "kernel":
        from pyebpf.loader import load

        return load(program, **kw)
    from pyebpf import VM

    return VM(program, engine=backend.removeprefix("vm-"), **kw)


def create_map(backend: str, spec: Any) -> Any:
    """A map on its own from a MapSpec: `pyebpf.vm.maps.create_map(spec)` or `pyebpf.loader.create_map(spec)`."""
    if backend == "kernel":
        from pyebpf.loader import create_map as kernel_create_map

        return kernel_create_map(spec)
    from pyebpf.vm.maps import create_map as vm_create_map

    return vm_create_map(spec)


__all__ = ["BACKENDS", "open_program", "create_map"]
