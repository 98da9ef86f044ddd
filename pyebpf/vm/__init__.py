"""The eBPF simulator: `VM(program, ...).run(...)` with two engines (interpreter and compiler) behind one API.

Layout: `memory` (regions, bounds, permissions), `runtime` (the Machine helpers and contexts see), `interp` and
`compiler` (the engines), `vm` (the public VM/RunResult/run). Maps, helpers, contexts, environment and output live
in `maps`, `helpers`, `context`, `env`, `output`.
"""
from __future__ import annotations

from typing import Any

__all__ = ["VM", "RunResult", "run"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from pyebpf.vm import vm as _vm

        return getattr(_vm, name)
    raise AttributeError(f"module 'pyebpf.vm' has no attribute {name!r}")
