"""The Python front end: a restricted Python function (its `ast`) -> IR (docs/probes.md)."""
from __future__ import annotations

import ast
import inspect
from typing import Any, Callable

from pyebpf.compiler.context import ContextSpec
from pyebpf.compiler.ir import IRBuilder, Param, Return, StackSlot, VReg
from pyebpf.compiler.ktypes import KernelTypes
from pyebpf.compiler.pyfront.arith import ArithMixin
from pyebpf.compiler.pyfront.calls import CallsMixin
from pyebpf.compiler.pyfront.conditions import ConditionsMixin
from pyebpf.compiler.pyfront.ctxaccess import ContextMixin
from pyebpf.compiler.pyfront.expressions import ExpressionsMixin
from pyebpf.compiler.pyfront.intrinsics import IntrinsicsMixin
from pyebpf.compiler.pyfront.kernel import KernelMixin
from pyebpf.compiler.pyfront.lookups import LookupsMixin
from pyebpf.compiler.pyfront.loops import LoopsMixin
from pyebpf.compiler.pyfront.maps import MapsMixin
from pyebpf.compiler.pyfront.memory import MemoryMixin
from pyebpf.compiler.pyfront.statements import StatementsMixin
from pyebpf.compiler.pyfront.subprograms import SubprogramsMixin
from pyebpf.compiler.pyfront.source import parse_function
from pyebpf.compiler.pyfront.values import Ctx, Frame, Ptr
from pyebpf.compiler.symbols import MapInfo
from pyebpf.compiler.types import S64, PtrType
from pyebpf.errors import CompileError


class PythonFrontEnd(StatementsMixin, ExpressionsMixin, ArithMixin, ConditionsMixin, CallsMixin, IntrinsicsMixin,
                     MemoryMixin, ContextMixin, MapsMixin, KernelMixin, SubprogramsMixin, LookupsMixin, LoopsMixin):
    """Lowers one probe function (and what it calls) into an IRBuilder."""

    def __init__(self, fn: Callable[..., Any], ctx_spec: ContextSpec | None, default_return: int = 0,
                 map_namer: Callable[[Any, str], str] | None = None, prog_kind: str = "", cpu_v4: bool = True,
                 kernel: KernelTypes | None = None):
        self.fn = fn
        self.kernel = kernel
        """Kernel types (struct layouts for task.real_parent.tgid); None: compiled without them."""
        self.cpu_v4 = cpu_v4
        self.ctx_spec = ctx_spec
        self.default_return = default_return
        self.prog_kind = prog_kind
        self.map_namer = map_namer
        self.ir = IRBuilder(getattr(fn, "__name__", "probe"))
        self.maps: dict[str, MapInfo] = {}
        self.map_objects: dict[str, Any] = {}
        self.rodata = bytearray()
        self.rodata_name = ".rodata"
        self.frames: list[Frame] = []
        self._last_def: tuple[Any, VReg] | None = None
        self._zero_slots: dict[int, StackSlot] = {}
        self._ctx_loads: dict[str, Ptr] = {}
        self._ctx_name: str | None = None
        self.subprograms: dict[Any, Any] = {}
        """function -> the front end that compiled it as a bpf-to-bpf subprogram (shared by all of them)"""
        self._compiling: set[Any] = set()
        self._lookups: dict[Any, Any] = {}
        self._var_gen: dict[int, int] = {}
        self._map_gen: dict[str, int] = {}
        self._last_membership: Any = None
        self.ir.on_emit = self.watch_emit
        self.in_subprogram = False
        self.ret_type = S64
        self.param_types: list[Any] = []
        self.param_kts: list[Any] = []
        """per parameter of a subprogram: the kernel type it points to (None: an integer)"""

    # ---- lookups are forgotten at the end of the construct they were made in (pyfront/lookups.py) ---------------
    def cond(self, node: ast.expr, t: Any, f: Any) -> None:
        with self.lookup_scope():
            super().cond(node, t, f)

    def e_IfExp(self, node: ast.IfExp) -> Any:
        with self.lookup_scope():
            return super().e_IfExp(node)

    def e_BoolOp(self, node: ast.BoolOp) -> Any:
        with self.lookup_scope():
            return super().e_BoolOp(node)

    def inline(self, node: ast.Call, fn: Any) -> Any:
        with self.lookup_scope():
            return super().inline(node, fn)

    def s_For(self, s: ast.For) -> None:
        with self.lookup_scope(fresh=True):
            super().s_For(s)

    def s_While(self, s: ast.While) -> None:
        with self.lookup_scope(fresh=True):
            super().s_While(s)

    # ---- diagnostics --------------------------------------------------------------------------------------------
    @property
    def frame(self) -> Frame:
        return self.frames[-1]

    def err(self, node: ast.AST | None, message: str, hint: str = "") -> CompileError:
        f = self.frame
        if node is None or not hasattr(node, "lineno"):
            return CompileError(message, f.filename, f.first_line, 1, hint=hint)
        line = f.first_line + node.lineno - 1
        col = node.col_offset + f.col_shift + 1
        idx = node.lineno - 1
        src = f.lines[idx] if 0 <= idx < len(f.lines) else ""
        end_col = getattr(node, "end_col_offset", None)
        length = (end_col - node.col_offset) if end_col is not None and getattr(node, "end_lineno", 0) == \
            node.lineno else 1
        return CompileError(message, f.filename, line, col, src, hint, length)

    def at(self, node: ast.AST) -> None:
        f = self.frame
        if hasattr(node, "lineno"):
            self.ir.loc = (f.first_line + node.lineno - 1, node.col_offset + f.col_shift + 1)

    # ---- entry --------------------------------------------------------------------------------------------------
    def compile(self) -> None:
        fdef, filename, first, shift, lines = parse_function(self.fn)
        frame = Frame(dict(getattr(self.fn, "__globals__", {})), filename, first, shift, lines, name=fdef.name,
                      fn=self.fn)
        closure = inspect.getclosurevars(self.fn).nonlocals if getattr(self.fn, "__closure__", None) else {}
        frame.globals.update(closure)
        self.frames.append(frame)
        args = fdef.args
        if args.vararg or args.kwarg or args.kwonlyargs or args.posonlyargs or args.defaults or len(args.args) > 1:
            raise self.err(fdef, "a probe takes one parameter, the context (def probe(ctx): ...)",
                           hint="read the context's fields as ctx.NAME")
        if args.args:
            v = self.ir.vreg(PtrType("ctx"), "ctx")
            self.ir.emit(Param(v, 1))
            frame.vars[args.args[0].arg] = Ctx(v, self.ctx_spec)
            frame.assigned.add(args.args[0].arg)
            self._ctx_name = args.args[0].arg
        self.body(fdef.body)
        if not self.ir.terminated:
            self.ir.terminate(Return(self.default_return))
        self.frames.pop()
