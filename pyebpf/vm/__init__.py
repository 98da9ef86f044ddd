"""The eBPF simulator: `VM(program, ...).run(...)` with two engines (interpreter and compiler) behind one API.

Layout: `memory` (regions, bounds, permissions), `runtime` (the Machine helpers and contexts see), `interp` and
`compiler` (the engines), `vm` (the public VM/RunResult/run). Maps, helpers, contexts, environment and output live
in `maps`, `helpers`, `context`, `env`, `output`.
"""
from __future__ import annotations

from pyebpf._lazy import lazy_exports

__all__ = ["VM", "RunResult", "run"]

__getattr__, __dir__ = lazy_exports(__name__, {name: "pyebpf.vm.vm" for name in __all__})
