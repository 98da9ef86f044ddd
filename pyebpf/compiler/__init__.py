"""The compiler from restricted Python (and later bpftrace) to eBPF, with no clang and no LLVM.

Front ends (`pyfront`: Python functions) produce a small typed IR (`ir`, `types`); `regalloc` and `lower` turn it
into `isa` instructions through `emit`, giving a `Program` the verifier, the VM and the loader all take. The
compiler reads nothing from the running system itself: tracepoint layouts come from an injected provider
(`context.TracepointProvider`). This package imports only errors, abi and isa.
"""
from __future__ import annotations

from pyebpf.compiler.api import CompiledProbe, compile_probe, section_info
from pyebpf.compiler.types import INT_TYPES, S8, S16, S32, S64, U8, U16, U32, U64, IntType

__all__ = ["compile_probe", "CompiledProbe", "section_info", "IntType", "INT_TYPES", "U8", "U16", "U32", "U64", "S8",
           "S16", "S32", "S64"]
