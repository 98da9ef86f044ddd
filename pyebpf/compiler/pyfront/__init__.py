"""The Python front end: a restricted Python function (its `ast`) -> IR.

The subset is Python's syntax with C's integer semantics (docs/probes.md): typed integers, locals, if/elif/else,
conditional expressions, `and/or/not`, `for i in range(N)`, `while`, break/continue, early return, maps with
subscript syntax, ctypes structures, helper intrinsics and f-string printk; module-level helper functions are
inlined. Anything else is a CompileError at its file:line:col with what to write instead.

One module per job: `frontend` (state, diagnostics, entry) assembled from mixins — `statements`, `expressions`,
`arith` (C integer typing and operators), `conditions`, `calls` (builtins, casts, inlining), `intrinsics`
(helpers), `memory` (structures), `ctxaccess` (context per program type), `maps`; plain data in `values`, C
semantics in `cint`, diagnostics tables in `hints`, source reading in `source`.
"""
from __future__ import annotations

from pyebpf.compiler.pyfront.cint import c_binop
from pyebpf.compiler.pyfront.frontend import PythonFrontEnd
from pyebpf.compiler.pyfront.source import parse_function
from pyebpf.compiler.pyfront.values import Ctx, CtxArray, Frame, Int, Mem, Obj, Ptr, Str, Value

__all__ = ["PythonFrontEnd", "c_binop", "parse_function", "Int", "Ptr", "Mem", "Obj", "Ctx", "CtxArray", "Str",
           "Value", "Frame"]
