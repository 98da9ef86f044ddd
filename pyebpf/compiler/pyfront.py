"""The Python front end: a restricted Python function (its `ast`) -> IR.

The subset is Python's syntax with C's integer semantics (docs/probes.md): typed integers, locals, if/elif/else,
conditional expressions, `and/or/not`, `for i in range(N)`, `while`, break/continue, early return, maps with
subscript syntax, ctypes structures, helper intrinsics and f-string printk; module-level helper functions are
inlined. Anything else is a CompileError at its file:line:col with what to write instead.
"""
from __future__ import annotations

import ast
import ctypes
import inspect
import textwrap
from dataclasses import dataclass, field
from typing import Any, Callable

from pyebpf.abi.helpers import HelperId
from pyebpf.abi.maps import ARRAY_TYPES, PERCPU_TYPES, MapType
from pyebpf.abi.uapi import HelperFlags, UpdateFlags
from pyebpf.compiler.context import ContextSpec, Field
from pyebpf.compiler.ir import (
    Alu, AtomicAdd, Block, Bswap, Call, Ext, IRBuilder, Load, MapRef, Mov, Neg, Operand, Param, Return, SlotAddr,
    StackSlot, Store, VReg, NEGATED,
)
from pyebpf.compiler.symbols import MapInfo, is_array, is_struct
from pyebpf.compiler.types import (
    INT_TYPES, S32, S64, U8, U32, U64, IntType, PtrType, common_type, int_type_of_ctype, promote,
)
from pyebpf.errors import CompileError

MAX_INLINE_DEPTH = 8
MAX_RANGE = 1 << 20
NAMED_CONSTANTS = {"True": 1, "False": 0}


# ---- values ---------------------------------------------------------------------------------------------------------

@dataclass
class Int:
    """An integer: a VReg or a constant; `t` None for an untyped literal (typed as C types literals on use)."""

    op: Operand
    t: IntType | None
    rng: tuple[int, int] | None = None
    """Known bounds of the value (inclusive), narrower than its type's when arithmetic proved so."""

    @property
    def const(self) -> int | None:
        return self.op if isinstance(self.op, int) else None

    def bounds(self) -> tuple[int, int]:
        if isinstance(self.op, int):
            return self.op, self.op
        if self.rng is not None:
            return self.rng
        t = self.t or S64
        return t.min, t.max


@dataclass
class Ptr:
    """A pointer the program may compare and offset (packet pointers, a nullable map value)."""

    v: VReg
    kind: str
    target: Any = None


@dataclass
class Mem:
    """An object in memory: `ctype` at base + off (a stack slot, or a pointer VReg: map value, packet, ctx)."""

    base: VReg | StackSlot
    off: int
    ctype: Any
    big_endian: bool = False


@dataclass
class Obj:
    """A Python object named by the source that is not a value (map, intrinsic, type, function, module)."""

    value: Any


@dataclass
class Ctx:
    v: VReg
    spec: ContextSpec | None


@dataclass
class CtxArray:
    ctx: Ctx
    field: Field


@dataclass
class Str:
    text: str


Value = Int | Ptr | Mem | Obj | Ctx | CtxArray | Str


@dataclass
class Frame:
    """One function being lowered (the probe, or an inlined helper)."""

    globals: dict[str, Any]
    filename: str
    first_line: int
    col_shift: int
    lines: list[str]
    vars: dict[str, Value] = field(default_factory=dict)
    assigned: set[str] = field(default_factory=set)
    loops: list[tuple[Block, Block]] = field(default_factory=list)
    ret_block: Block | None = None
    ret_var: Int | None = None
    ret_type: IntType | None = None
    name: str = ""
    fn: Any = None


def parse_function(fn: Callable[..., Any]) -> tuple[ast.FunctionDef, str, int, int, list[str]]:
    """The function's AST with where it came from: (def node, filename, first line, indentation removed, lines)."""
    try:
        lines, first = inspect.getsourcelines(fn)
        filename = inspect.getsourcefile(fn) or "<probe>"
    except (OSError, TypeError) as e:
        raise CompileError(f"cannot read the source of {getattr(fn, '__name__', fn)!r}: {e}",
                           hint="probes must be defined in a file (not typed at an interactive prompt)") from None
    text = "".join(lines)
    dedented = textwrap.dedent(text)
    shift = len(lines[0]) - len(lines[0].lstrip()) if dedented != text else 0
    try:
        tree = ast.parse(dedented)
    except SyntaxError as e:
        raise CompileError(f"syntax error: {e.msg}", filename, first + (e.lineno or 1) - 1, (e.offset or 1) + shift)
    fdef = tree.body[0]
    if not isinstance(fdef, ast.FunctionDef):
        raise CompileError(f"{getattr(fn, '__name__', fn)!r} is not a plain function", filename, first, 1)
    return fdef, filename, first, shift, [ln.rstrip("\n") for ln in lines]


class PythonFrontEnd:
    """Lowers one probe function (and what it calls) into an IRBuilder."""

    def __init__(self, fn: Callable[..., Any], ctx_spec: ContextSpec | None, default_return: int = 0,
                 map_namer: Callable[[Any, str], str] | None = None, prog_kind: str = "", cpu_v4: bool = True):
        self.fn = fn
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

    # ---- statements ---------------------------------------------------------------------------------------------
    def body(self, stmts: list[ast.stmt]) -> None:
        for s in stmts:
            if self.ir.terminated:
                break  # unreachable code after return/break/continue is not compiled
            self.at(s)
            self.stmt(s)

    def stmt(self, s: ast.stmt) -> None:
        method = getattr(self, "s_" + type(s).__name__, None)
        if method is None:
            raise self.err(s, f"`{type(s).__name__.lower()}` statements are not supported in probes",
                           hint=_STMT_HINTS.get(type(s).__name__, "see docs/probes.md for the supported subset"))
        method(s)

    def s_Pass(self, s: ast.Pass) -> None:
        pass

    def s_Expr(self, s: ast.Expr) -> None:
        if isinstance(s.value, ast.Constant) and isinstance(s.value.value, str):
            return  # a docstring
        if not isinstance(s.value, ast.Call):
            raise self.err(s.value, "this expression has no effect", hint="assign it, or remove it")
        self.expr(s.value, statement=True)

    def s_Return(self, s: ast.Return) -> None:
        f = self.frame
        if f.ret_block is None:  # the probe itself: r0
            if s.value is None:
                self.ir.terminate(Return(self.default_return))
                return
            v = self.as_int(self.expr(s.value), s.value)
            self.ir.terminate(Return(v.op))
            return
        if s.value is not None:
            v = self.as_int(self.expr(s.value), s.value)
            if f.ret_var is None:
                t = f.ret_type or (promote(v.t) if v.t else _literal_t(v.op))  # type: ignore[arg-type]
                f.ret_var = Int(self.ir.vreg(t, "ret"), t)
            self.assign_int(f.ret_var, v, s.value)
        self.ir.jump(f.ret_block)

    def s_Assign(self, s: ast.Assign) -> None:
        if len(s.targets) != 1:
            raise self.err(s, "chained assignment (a = b = ...) is not supported", hint="assign one name at a time")
        target = s.targets[0]
        if isinstance(target, ast.Tuple):
            raise self.err(target, "tuple unpacking is not supported", hint="assign each name on its own line")
        self.assign(target, s.value, None)

    def s_AnnAssign(self, s: ast.AnnAssign) -> None:
        if not isinstance(s.target, ast.Name):
            raise self.err(s.target, "annotations are only allowed on local names")
        t = self.type_of_annotation(s.annotation)
        if s.value is None:
            raise self.err(s, "a declaration needs a value", hint=f"write `{s.target.id}: {t.name} = 0`")
        self.assign(s.target, s.value, t)

    def type_of_annotation(self, node: ast.expr) -> IntType:
        v = self.resolve_static(node)
        if isinstance(v, IntType):
            return v
        raise self.err(node, "annotations must name an integer type", hint="u8..u64 or s8..s64 from pyebpf.probe")

    def assign(self, target: ast.expr, value_node: ast.expr, annotation: IntType | None) -> None:
        if isinstance(target, ast.Name):
            self.assign_name(target, value_node, annotation)
        elif isinstance(target, ast.Subscript):
            self.map_store(target, value_node)
        elif isinstance(target, ast.Attribute):
            dest = self.lvalue_mem(target)
            self.store_into(dest, value_node)
        else:
            raise self.err(target, "cannot assign to this", hint="assign to a local name, a map item or a field")

    def assign_name(self, target: ast.Name, value_node: ast.expr, annotation: IntType | None) -> None:
        f = self.frame
        name = target.id
        value = self.expr(value_node)
        existing = f.vars.get(name)
        if isinstance(value, (Mem, Ctx, Obj, Ptr, CtxArray)) and annotation is None:
            if existing is not None and not (type(existing) is type(value)):
                raise self.err(target, f"{name!r} already holds a {_kind(existing)}; it cannot become a "
                                       f"{_kind(value)}", hint="use a new name")
            if isinstance(value, Ptr) and isinstance(existing, Ptr):
                self.ir.emit(Mov(existing.v, value.v))
            else:
                f.vars[name] = value
            f.assigned.add(name)
            return
        v = self.as_int(value, value_node)
        if isinstance(existing, Int):
            if annotation is not None and annotation != existing.t:
                raise self.err(target, f"{name!r} is already a {existing.t!r}", hint="use a new name")
            self.assign_int(existing, v, value_node)
        elif existing is not None:
            raise self.err(target, f"{name!r} holds a {_kind(existing)}; it cannot become an integer",
                           hint="use a new name")
        else:
            t = annotation or (promote(v.t) if v.t is not None else _literal_t(v.op))  # type: ignore[arg-type]
            var = Int(self.ir.vreg(t, name), t)
            self.assign_int(var, v, value_node, fresh=True)
            f.vars[name] = var
        f.assigned.add(name)

    def assign_int(self, var: Int, v: Int, node: ast.AST, fresh: bool = False) -> None:
        """var = v, converted to var's type as C converts on assignment."""
        assert isinstance(var.op, VReg) and var.t is not None
        conv = self.convert(v, var.t)
        if isinstance(conv.op, VReg) and self._last_def is not None and self._last_def[1] is conv.op \
                and conv.op.name == "" and not _is_bound(self.frame, conv.op):
            self._last_def[0].dst = var.op  # compute straight into the variable
            self._last_def = None
            return
        self.ir.emit(Mov(var.op, conv.op))

    def s_AugAssign(self, s: ast.AugAssign) -> None:
        op = _BINOPS.get(type(s.op))
        if op is None:
            raise self.err(s, f"operator {type(s.op).__name__} is not supported", hint=_binop_hint(s.op))
        t = s.target
        if isinstance(t, ast.Name):
            cur = self.load_name(t)
            if not isinstance(cur, Int):
                raise self.err(t, f"{t.id!r} is not an integer")
            res = self.binop(op, cur, self.as_int(self.expr(s.value), s.value), s)
            self.assign_int(cur, res, s)
        elif isinstance(t, ast.Subscript):
            self.map_update_op(t, op, s.value, s)
        elif isinstance(t, ast.Attribute):
            dest = self.lvalue_mem(t)
            cur = self.read_mem(dest, t)
            res = self.binop(op, self.as_int(cur, t), self.as_int(self.expr(s.value), s.value), s)
            self.store_int(dest, res)
        else:
            raise self.err(t, "cannot update this in place")

    def s_If(self, s: ast.If) -> None:
        then_b, else_b, done = self.ir.new_block("then"), self.ir.new_block("else"), self.ir.new_block("endif")
        self.cond(s.test, then_b, else_b if s.orelse else done)
        before = set(self.frame.assigned)
        results: list[set[str] | None] = []
        self.ir.set_block(then_b)
        self.body(s.body)
        results.append(None if self.ir.terminated else set(self.frame.assigned))
        self.ir.jump(done)
        self.frame.assigned = set(before)
        if s.orelse:
            self.ir.set_block(else_b)
            self.body(s.orelse)
            results.append(None if self.ir.terminated else set(self.frame.assigned))
            self.ir.jump(done)
        else:
            results.append(before)
        live = [r for r in results if r is not None]
        self.frame.assigned = set.intersection(*live) if live else before
        self.ir.set_block(done)
        if not live:  # both branches left: whatever follows is unreachable
            self.ir.terminate(Return(self.default_return))

    def s_For(self, s: ast.For) -> None:
        if s.orelse:
            raise self.err(s, "for ... else is not supported", hint="use a flag variable")
        it = s.iter
        if not (isinstance(it, ast.Call) and isinstance(it.func, ast.Name) and it.func.id == "range"
                and not it.keywords and 1 <= len(it.args) <= 3):
            raise self.err(it, "probes loop only over range(...)", hint="for i in range(N): with a constant N")
        if not isinstance(s.target, ast.Name):
            raise self.err(s.target, "the loop variable must be a name")
        bounds = [self.as_int(self.expr(a), a) for a in it.args]
        if len(bounds) == 1:
            start, stop, step = Int(0, None), bounds[0], Int(1, None)
        else:
            start, stop = bounds[0], bounds[1]
            step = bounds[2] if len(bounds) == 3 else Int(1, None)
        if step.const is None or step.const == 0:
            raise self.err(it, "range() needs a constant, non-zero step")
        if start.const is not None and stop.const is not None and abs(stop.const - start.const) // abs(step.const) \
                > MAX_RANGE:
            raise self.err(it, f"this loop runs more than {MAX_RANGE} times", hint="the verifier walks every "
                                                                                  "iteration; use a smaller bound")
        ts = [b.t for b in (start, stop) if b.t is not None]
        t = S64 if not ts else (common_type(*ts) if len(ts) == 2 else promote(ts[0]))
        if not ts and start.const is not None and start.const >= 0 and stop.const is not None \
                and stop.const <= 0xFFFFFFFF:
            t = U32
        f = self.frame
        name = s.target.id
        if name in f.vars and not isinstance(f.vars[name], Int):
            raise self.err(s.target, f"{name!r} is not an integer")
        var = f.vars.get(name)
        if var is None or var.t != t:  # type: ignore[union-attr]
            var = Int(self.ir.vreg(t, name), t)
            f.vars[name] = var
        stop_v = self.convert(stop, t)
        if isinstance(stop_v.op, VReg):  # the bound is evaluated once, as Python does
            fixed = self.ir.vreg(t)
            self.ir.emit(Mov(fixed, stop_v.op))
            stop_v = Int(fixed, t)
        self.ir.emit(Mov(var.op, self.convert(start, t).op))  # type: ignore[union-attr]
        head, body_b, latch, done = (self.ir.new_block("for"), self.ir.new_block("body"),
                                     self.ir.new_block("next"), self.ir.new_block("endfor"))
        self.ir.jump(head)
        self.ir.set_block(head)
        op = ("slt" if t.signed else "lt") if step.const > 0 else ("sgt" if t.signed else "gt")
        self.ir.branch(op, var.op, stop_v.op, body_b, done)  # type: ignore[union-attr]
        before = set(f.assigned)
        f.assigned.add(name)
        self.ir.set_block(body_b)
        f.loops.append((latch, done))
        self.body(s.body)
        f.loops.pop()
        self.ir.jump(latch)
        self.ir.set_block(latch)
        nxt = self.binop("add", var, Int(step.const, None), s)  # type: ignore[arg-type]
        self.assign_int(var, nxt, s)  # type: ignore[arg-type]
        self.ir.jump(head)
        f.assigned = before
        self.ir.set_block(done)

    def s_While(self, s: ast.While) -> None:
        if s.orelse:
            raise self.err(s, "while ... else is not supported", hint="use a flag variable")
        f = self.frame
        head, body_b, done = self.ir.new_block("while"), self.ir.new_block("wbody"), self.ir.new_block("endwhile")
        self.ir.jump(head)
        self.ir.set_block(head)
        self.cond(s.test, body_b, done)
        before = set(f.assigned)
        self.ir.set_block(body_b)
        f.loops.append((head, done))
        self.body(s.body)
        f.loops.pop()
        self.ir.jump(head)
        f.assigned = before
        self.ir.set_block(done)

    def s_Break(self, s: ast.Break) -> None:
        if not self.frame.loops:
            raise self.err(s, "`break` outside a loop")
        self.ir.jump(self.frame.loops[-1][1])

    def s_Continue(self, s: ast.Continue) -> None:
        if not self.frame.loops:
            raise self.err(s, "`continue` outside a loop")
        self.ir.jump(self.frame.loops[-1][0])

    def s_Delete(self, s: ast.Delete) -> None:
        for t in s.targets:
            if not isinstance(t, ast.Subscript):
                raise self.err(t, "only map items can be deleted", hint="del counts[key]")
            info, mapname = self.map_of(t.value)
            if info.type in ARRAY_TYPES:
                raise self.err(t, "array map elements cannot be deleted", hint="store 0 instead: m[k] = 0")
            key = self.key_addr(info, t.slice)
            self.ir.emit(Call(HelperId.MAP_DELETE_ELEM, [MapRef(mapname), key]))

    # ---- expressions --------------------------------------------------------------------------------------------
    def expr(self, node: ast.expr, statement: bool = False) -> Value:
        method = getattr(self, "e_" + type(node).__name__, None)
        if method is None:
            raise self.err(node, f"{_describe(node)} is not supported in probes",
                           hint=_EXPR_HINTS.get(type(node).__name__, "see docs/probes.md for the supported subset"))
        if type(node).__name__ == "Call":
            return method(node, statement)
        return method(node)

    def e_Constant(self, node: ast.Constant) -> Value:
        v = node.value
        if isinstance(v, bool):
            return Int(int(v), None)
        if isinstance(v, int):
            if not -(1 << 63) <= v < (1 << 64):
                raise self.err(node, f"{v} does not fit in 64 bits")
            return Int(v, None)
        if isinstance(v, str):
            return Str(v)
        if isinstance(v, float):
            raise self.err(node, "floating point is not available in eBPF", hint="use integers (e.g. nanoseconds)")
        if v is None:
            raise self.err(node, "None is not a value in probes", hint="use 0")
        raise self.err(node, f"{type(v).__name__} constants are not supported")

    def e_Name(self, node: ast.Name) -> Value:
        return self.load_name(node)

    def load_name(self, node: ast.Name) -> Value:
        f = self.frame
        if node.id in f.vars:
            if node.id not in f.assigned:
                raise self.err(node, f"{node.id!r} may be used before it is assigned on some path",
                               hint=f"assign {node.id} before the if/loop")
            return f.vars[node.id]
        return self.global_value(node, node.id)

    def global_value(self, node: ast.AST, name: str) -> Value:
        f = self.frame
        if name in f.globals:
            obj = f.globals[name]
        elif name in NAMED_CONSTANTS:
            return Int(NAMED_CONSTANTS[name], None)
        else:
            import builtins

            if name in ("range", "str", "len", "int", "bool", "min", "max", "abs", "print"):
                return Obj(getattr(builtins, name))
            raise self.err(node, f"name {name!r} is not defined")
        if isinstance(obj, bool):
            return Int(int(obj), None)
        if isinstance(obj, int):
            if not -(1 << 63) <= obj < (1 << 64):
                raise self.err(node, f"global {name} = {obj} does not fit in 64 bits")
            return Int(int(obj), None)  # module constants are folded in, as C's #define
        if hasattr(obj, "__probe_map__"):
            self.register_map(obj, name)
        return Obj(obj)

    def register_map(self, obj: Any, global_name: str) -> str:
        info: MapInfo = obj.__probe_map__
        if not info.name:
            info.name = self.map_namer(obj, global_name) if self.map_namer else global_name
        prev = self.map_objects.get(info.name)
        if prev is not None and prev is not obj:
            raise CompileError(f"two different maps are named {info.name!r}", self.frame.filename,
                               self.frame.first_line, 1, hint="give one of them name=...")
        self.maps[info.name] = info
        self.map_objects[info.name] = obj
        return info.name

    def resolve_static(self, node: ast.expr) -> Any:
        """A compile-time Python object named by `node` (a name or a dotted attribute of a module/class)."""
        if isinstance(node, ast.Name):
            v = self.load_name(node) if node.id in self.frame.vars else self.global_value(node, node.id)
            return v.value if isinstance(v, Obj) else v
        if isinstance(node, ast.Attribute):
            base = self.resolve_static(node.value)
            if isinstance(base, (Int, Mem, Ctx, Ptr)):
                return None
            try:
                return getattr(base, node.attr)
            except AttributeError:
                raise self.err(node, f"{getattr(base, '__name__', base)!r} has no attribute {node.attr!r}") from None
        return None

    def map_struct_item(self, node: ast.expr) -> tuple[MapInfo, ast.Subscript] | None:
        """(map, subscript) when `node` is m[k] of a map whose values are structures."""
        if not isinstance(node, ast.Subscript):
            return None
        target = self.resolve_static(node.value) if isinstance(node.value, (ast.Name, ast.Attribute)) else None
        info = getattr(target, "__probe_map__", None)
        if info is None or not is_struct(info.value_ctype):
            return None
        self.expr(node.value)  # registers the map
        return info, node

    def e_Attribute(self, node: ast.Attribute) -> Value:
        item = self.map_struct_item(node.value)
        if item is not None:  # m[k].field: the field of the value, 0 when the key is absent
            info, sub = item
            key = self.key_addr(info, sub.slice)
            fm = self.field_mem(Mem(self.ir.vreg(U64), 0, info.value_ctype), node.attr, node)
            it = int_type_of_ctype(fm.ctype)
            if it is None:
                raise self.err(node, f"{node.attr} is not an integer field")
            res = Int(self.ir.vreg(it), it)
            self.ir.emit(Mov(res.op, 0))  # type: ignore[arg-type]
            p = self.lookup(info, key)
            found, done = self.ir.new_block("found"), self.ir.new_block("endget")
            self.ir.branch("ne", p, 0, found, done)
            self.ir.set_block(found)
            self.ir.emit(Load(res.op, p, fm.off, it.size, it.signed))  # type: ignore[arg-type]
            self.ir.jump(done)
            self.ir.set_block(done)
            return res
        base = self.expr(node.value)
        if isinstance(base, Ctx):
            return self.ctx_field(base, node)
        if isinstance(base, Mem):
            return self.mem_field(base, node)
        if isinstance(base, Obj):
            try:
                obj = getattr(base.value, node.attr)
            except AttributeError:
                raise self.err(node, f"{getattr(base.value, '__name__', base.value)!r} has no attribute "
                                     f"{node.attr!r}") from None
            if isinstance(obj, bool) or isinstance(obj, int):
                return Int(int(obj), None)
            if hasattr(obj, "__probe_map__"):
                self.register_map(obj, node.attr)
            return Obj(obj)
        raise self.err(node, f"a {_kind(base)} has no attribute {node.attr!r}")

    def e_Subscript(self, node: ast.Subscript) -> Value:
        base = self.expr(node.value)
        if isinstance(base, Obj) and hasattr(base.value, "__probe_map__"):
            return self.map_read(node, base.value.__probe_map__, None)
        if isinstance(base, CtxArray):
            i = self.const_index(node.slice, base.field.count)
            f = base.field
            return self.load_ctx(base.ctx, Field(f"{f.name}[{i}]", f.offset + i * f.size, f.size, f.signed), node)
        if isinstance(base, Mem) and is_array(base.ctype):
            return self.mem_index(base, node)
        raise self.err(node, f"a {_kind(base)} cannot be subscripted")

    def const_index(self, node: ast.expr, count: int) -> int:
        v = self.expr(node)
        if not isinstance(v, Int) or v.const is None:
            raise self.err(node, "the index must be a constant", hint="write args[1], not args[i]")
        if not 0 <= v.const < count:
            raise self.err(node, f"index {v.const} is out of range (0..{count - 1})")
        return v.const

    def e_BinOp(self, node: ast.BinOp) -> Value:
        if isinstance(node.op, ast.Pow):  # constants only: 10 ** 9, 2 ** 20
            base, exp = self.expr(node.left), self.expr(node.right)
            if isinstance(base, Int) and isinstance(exp, Int) and base.const is not None and exp.const is not None \
                    and 0 <= exp.const <= 64:
                value = base.const ** exp.const
                t = common_type(base.t or _literal_t(base.const), _literal_t(value) if -(1 << 63) <= value < (1 << 64)
                                else U64)
                return Int(t.wrap(value), t)
            raise self.err(node, "operator ** is only supported between constants",
                           hint="write the multiplication out, or use << for powers of two")
        op = _BINOPS.get(type(node.op))
        if op is None:
            raise self.err(node, f"operator {_OPNAMES.get(type(node.op), type(node.op).__name__)} is not "
                                 f"supported", hint=_binop_hint(node.op))
        left = self.expr(node.left)
        right = self.expr(node.right)
        if isinstance(left, Ptr) and op in ("add", "sub"):
            return self.ptr_offset(left, self.as_int(right, node.right), op, node)
        return self.binop(op, self.as_int(left, node.left), self.as_int(right, node.right), node)

    def e_UnaryOp(self, node: ast.UnaryOp) -> Value:
        if isinstance(node.op, ast.Not):
            return self.bool_value(node)
        v = self.as_int(self.expr(node.operand), node.operand)
        if isinstance(node.op, ast.UAdd):
            return v
        t = promote(v.t) if v.t is not None else _literal_t(v.op)  # type: ignore[arg-type]
        if v.const is not None:
            return Int(t.wrap(-v.const if isinstance(node.op, ast.USub) else ~v.const), t)
        d = self.ir.vreg(t)
        if isinstance(node.op, ast.USub):
            self.def_(Neg(d, v.op, t.bits == 64), d)
        else:
            self.def_(Alu("xor", d, v.op, -1, t.bits == 64), d)
        return self.normalize(Int(d, t))

    def e_Compare(self, node: ast.Compare) -> Value:
        return self.bool_value(node)

    def e_BoolOp(self, node: ast.BoolOp) -> Value:
        """Python's value semantics: `a or b` is a if a is true, else b; the result has the operands' common type
        (each operand is converted to it where it was evaluated)."""
        done = self.ir.new_block("boolend")
        pairs: list[tuple[Block, Int]] = []
        for i, n in enumerate(node.values):
            v = self.as_int(self.expr(n), n)
            pairs.append((self.ir.block, v))
            if i == len(node.values) - 1:
                self.ir.jump(done)
                break
            nxt = self.ir.new_block("boolnext")
            go_on = isinstance(node.op, ast.And)  # `and` goes on while true, `or` while false
            if v.const is not None:
                self.ir.jump(nxt if bool(v.const) == go_on else done)
            else:
                self.ir.branch("ne" if go_on else "eq", v.op, 0, nxt, done)
            self.ir.set_block(nxt)
        t = pairs[0][1].t or _literal_t(pairs[0][1].op)  # type: ignore[arg-type]
        for _, v in pairs[1:]:
            t = common_type(t, v.t or _literal_t(v.op))  # type: ignore[arg-type]
        t = promote(t)
        res = Int(self.ir.vreg(t), t)
        for blk, v in pairs:
            term, blk.term = blk.term, None
            self.ir.set_block(blk)
            self.ir.emit(Mov(res.op, self.convert(v, t).op))  # type: ignore[arg-type]
            blk.term = term
        self._last_def = None
        self.ir.set_block(done)
        return res

    def e_IfExp(self, node: ast.IfExp) -> Value:
        then_b, else_b, done = self.ir.new_block("ifx"), self.ir.new_block("elsex"), self.ir.new_block("endx")
        self.cond(node.test, then_b, else_b)
        self.ir.set_block(then_b)
        a = self.as_int(self.expr(node.body), node.body)
        a_block = self.ir.block
        self.ir.set_block(else_b)
        b = self.as_int(self.expr(node.orelse), node.orelse)
        ta = a.t or _literal_t(a.op)  # type: ignore[arg-type]
        tb = b.t or _literal_t(b.op)  # type: ignore[arg-type]
        t = common_type(ta, tb)
        res = Int(self.ir.vreg(t), t)
        self.assign_int(res, b, node.orelse)
        self.ir.jump(done)
        self.ir.set_block(a_block)
        self.assign_int(res, a, node.body)
        self.ir.jump(done)
        self.ir.set_block(done)
        return res

    def e_JoinedStr(self, node: ast.JoinedStr) -> Value:
        raise self.err(node, "f-strings are only allowed as printk's argument", hint='printk(f"pid {pid()}")')

    # ---- integers -----------------------------------------------------------------------------------------------
    def def_(self, insn: Any, d: VReg) -> None:
        self.ir.emit(insn)
        self._last_def = (insn, d)

    def as_int(self, v: Value, node: ast.AST) -> Int:
        if isinstance(v, Int):
            return v
        if isinstance(v, Mem):
            t = int_type_of_ctype(v.ctype)
            if t is not None:
                return self.read_mem(v, node)  # type: ignore[return-value]
        if isinstance(v, Obj) and isinstance(v.value, IntType):
            raise self.err(node, f"{v.value.name} is a type", hint=f"cast a value with {v.value.name}(x)")
        raise self.err(node, f"expected an integer, got a {_kind(v)}")

    def normalize(self, v: Int) -> Int:
        """Re-establish the register invariant after 32-bit signed arithmetic (sign-extend the low half)."""
        t = v.t
        if t is not None and t.bits == 32 and t.signed and isinstance(v.op, VReg):
            d = self.ir.vreg(t)
            self.def_(Ext(d, v.op, 32, True), d)
            return Int(d, t)
        return v

    def convert(self, v: Int, t: IntType) -> Int:
        """v as type t (C conversion): constants wrap; registers are re-extended when the value might not fit."""
        if v.const is not None:
            return Int(t.wrap(v.const), t)
        src = v.t
        assert src is not None
        lo, hi = v.bounds()
        if t.min <= lo and hi <= t.max:  # the value fits: both types hold it in the same register bits
            return Int(v.op, t, (lo, hi))
        if t.bits == 64 or (src.bits < t.bits and (t.signed or not src.signed)) or \
                (src.bits == t.bits and src.signed == t.signed):
            return Int(v.op, t)
        d = self.ir.vreg(t)
        self.def_(Ext(d, v.op, t.bits, t.signed), d)
        return Int(d, t)

    def binop(self, op: str, a: Int, b: Int, node: ast.AST) -> Int:
        if op in ("lsh", "rsh"):
            t = promote(a.t) if a.t is not None else _literal_t(a.op)  # type: ignore[arg-type]
        else:
            ta = a.t or _literal_t(a.op)  # type: ignore[arg-type]
            tb = b.t or _literal_t(b.op)  # type: ignore[arg-type]
            t = common_type(ta, tb)
        if a.const is not None and b.const is not None:
            return Int(c_binop(op, t.wrap(a.const), t.wrap(b.const), t), t)
        av = self.convert(a, t)
        bv = self.convert(b, t) if op not in ("lsh", "rsh") else b
        if op == "rsh" and t.signed:
            op = "arsh"
        if op in ("lsh", "rsh", "arsh") and bv.const is not None:
            bv = Int(bv.const & (t.bits - 1), bv.t)
        if av.const is not None and op in ("add", "mul", "and", "or", "xor"):
            av, bv = bv, av  # the constant becomes the immediate
        rng = _result_range(op, av.bounds(), bv.bounds())
        if rng is not None and not (t.min <= rng[0] and rng[1] <= t.max):
            rng = None  # it may wrap
        d = self.ir.vreg(t)
        signed = t.signed
        if op in ("div", "mod") and signed:
            if av.bounds()[0] >= 0 and bv.bounds()[0] >= 0:
                signed = False  # both non-negative: unsigned division gives the same, on every kernel
            elif not self.cpu_v4:
                self.signed_divmod(op, d, av.op, bv.op)
                return self.normalize(Int(d, t))
        self.def_(Alu(op, d, av.op, bv.op, t.bits == 64, signed), d)
        if rng is not None and rng[0] >= 0:
            return Int(d, t, rng)  # non-negative and no wrap: the ALU32 result needs no sign extension
        return self.normalize(Int(d, t, rng))

    def signed_divmod(self, op: str, d: VReg, a: Operand, b: Operand) -> None:
        """d = a sdiv/smod b without cpu v4 (before Linux 6.6), branch-free on 64-bit sign-extended values:
        unsigned |a| / |b|, then the sign: (q ^ s) - s with s = sign(a) ^ sign(b) for the quotient, sign(a) for
        the remainder. x / 0 = 0 and x % 0 = x, INT_MIN / -1 = INT_MIN, as sdiv/smod define them."""
        def absval(x: Operand) -> tuple[VReg, VReg]:
            sign, mag = self.ir.vreg(S64), self.ir.vreg(U64)
            self.ir.emit(Alu("arsh", sign, x, 63))
            self.ir.emit(Alu("xor", mag, x, sign))
            self.ir.emit(Alu("sub", mag, mag, sign))
            return sign, mag

        sa, ma = absval(a)
        sb, mb = absval(b)
        q = self.ir.vreg(U64)
        self.ir.emit(Alu(op, q, ma, mb))
        s = sa
        if op == "div":
            s = self.ir.vreg(S64)
            self.ir.emit(Alu("xor", s, sa, sb))
        self.ir.emit(Alu("xor", q, q, s))
        self.ir.emit(Alu("sub", d, q, s))
        self._last_def = None

    def ptr_offset(self, p: Ptr, off: Int, op: str, node: ast.AST) -> Ptr:
        d = self.ir.vreg(PtrType(p.kind, p.target))
        self.ir.emit(Alu(op, d, p.v, self.convert(off, S64).op))
        return Ptr(d, p.kind, p.target)

    # ---- conditions ---------------------------------------------------------------------------------------------
    def bool_value(self, node: ast.expr) -> Int:
        t_b, f_b, done = self.ir.new_block("true"), self.ir.new_block("false"), self.ir.new_block("bool")
        res = Int(self.ir.vreg(S32), S32)
        self.cond(node, t_b, f_b)
        self.ir.set_block(t_b)
        self.ir.emit(Mov(res.op, 1))  # type: ignore[arg-type]
        self.ir.jump(done)
        self.ir.set_block(f_b)
        self.ir.emit(Mov(res.op, 0))  # type: ignore[arg-type]
        self.ir.jump(done)
        self.ir.set_block(done)
        return res

    def cond(self, node: ast.expr, t: Block, f: Block) -> None:
        """Branch to t when `node` is true, else to f (short-circuit, no value materialised)."""
        if isinstance(node, ast.BoolOp):
            for n in node.values[:-1]:
                nxt = self.ir.new_block("cond")
                if isinstance(node.op, ast.And):
                    self.cond(n, nxt, f)
                else:
                    self.cond(n, t, nxt)
                self.ir.set_block(nxt)
            self.cond(node.values[-1], t, f)
            return
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
            self.cond(node.operand, f, t)
            return
        if isinstance(node, ast.Compare):
            left_node = node.left
            if any(isinstance(c, (ast.In, ast.NotIn)) for c in node.ops):
                cop = node.ops[0]
                if len(node.ops) != 1:
                    raise self.err(node, "`in` cannot be chained", hint="write `k in m and ...`")
                found = isinstance(cop, ast.In)
                self.membership(left_node, node.comparators[0], t if found else f, f if found else t)
                return
            left = self.expr(left_node)
            for i, (cop, right_node) in enumerate(zip(node.ops, node.comparators)):
                last = i == len(node.ops) - 1
                nxt = t if last else self.ir.new_block("chain")
                right = self.expr(right_node)
                self.compare(cop, left, right, node, nxt, f)
                if not last:
                    self.ir.set_block(nxt)
                left = right
            return
        v = self.expr(node)
        if isinstance(v, Ptr):
            self.ir.branch("ne", v.v, 0, t, f)
            return
        iv = self.as_int(v, node)
        if iv.const is not None:
            self.ir.jump(t if iv.const else f)
            return
        self.ir.branch("ne", iv.op, 0, t, f)

    def compare(self, cop: ast.cmpop, left: Value, right: Value, node: ast.AST, t: Block, f: Block) -> None:
        if isinstance(cop, (ast.Is, ast.IsNot)):
            raise self.err(node, "`is` is not supported", hint="compare integers with == and !=")
        base = _CMPOPS[type(cop)]
        if isinstance(left, Ptr) or isinstance(right, Ptr):
            if not (isinstance(left, Ptr) and isinstance(right, Ptr)):
                raise self.err(node, "a pointer can only be compared with a pointer",
                               hint="compare ctx.data + N with ctx.data_end")
            self.ir.branch(base, left.v, right.v, t, f)
            return
        a, b = self.as_int(left, node), self.as_int(right, node)
        ta = a.t or _literal_t(a.op)  # type: ignore[arg-type]
        tb = b.t or _literal_t(b.op)  # type: ignore[arg-type]
        ct = common_type(ta, tb)
        if a.const is not None and b.const is not None:
            self.ir.jump(t if _cmp(base, ct.wrap(a.const), ct.wrap(b.const)) else f)
            return
        av, bv = self.convert(a, ct), self.convert(b, ct)
        op = ("s" + base) if ct.signed and base not in ("eq", "ne") else base
        self.ir.branch(op, av.op, bv.op, t, f)

    # ---- calls --------------------------------------------------------------------------------------------------
    def e_Call(self, node: ast.Call, statement: bool = False) -> Value:
        func = node.func
        if isinstance(func, ast.Attribute):
            recv = self.expr(func.value)
            if isinstance(recv, Obj) and hasattr(recv.value, "__probe_map__"):
                return self.map_method(node, recv.value, func.attr, statement)
            if isinstance(recv, Ctx) and func.attr == "header":
                return self.packet_header(node, recv)
            if isinstance(recv, Obj):
                target = getattr(recv.value, func.attr, None)
                if target is None:
                    raise self.err(func, f"{getattr(recv.value, '__name__', recv.value)!r} has no attribute "
                                         f"{func.attr!r}")
                return self.call_object(node, target, statement)
            raise self.err(func, f"a {_kind(recv)} has no method {func.attr!r}")
        if isinstance(func, ast.Name):
            if func.id in self.frame.vars:
                raise self.err(func, f"{func.id!r} is a local value, not a function")
            v = self.global_value(func, func.id)
            if not isinstance(v, Obj):
                raise self.err(func, f"{func.id!r} is not callable")
            return self.call_object(node, v.value, statement)
        raise self.err(func, "only named functions can be called")

    def call_object(self, node: ast.Call, obj: Any, statement: bool) -> Value:
        name = getattr(obj, "__probe_intrinsic__", None)
        if name is not None:
            return self.intrinsic(name, node, statement)
        if isinstance(obj, IntType):
            if len(node.args) != 1 or node.keywords:
                raise self.err(node, f"{obj.name}(x) takes one value")
            return self.convert(self.as_int(self.expr(node.args[0]), node.args[0]), obj)
        if is_struct(obj):
            return self.struct_value(node, obj)
        import builtins

        if obj is builtins.str:
            return self.read_str(node, user=True)
        if obj is builtins.int:
            return self.as_int(self.expr(node.args[0]), node) if len(node.args) == 1 else Int(0, None)
        if obj in (builtins.min, builtins.max):
            return self.minmax(node, obj is builtins.min)
        if obj is builtins.abs:
            v = self.as_int(self.expr(node.args[0]), node.args[0])
            neg = self.binop("sub", Int(0, None), v, node)
            return self.select(self.mk_cmp("slt" if (v.t or S64).signed else "lt", v, Int(0, None)), neg, v)
        if obj is builtins.print:
            raise self.err(node, "print() does not exist in the kernel", hint='use printk(f"...")')
        if inspect.isfunction(obj):
            return self.inline(node, obj)
        raise self.err(node, f"{getattr(obj, '__name__', obj)!r} cannot be called in a probe",
                       hint="call helpers from pyebpf.probe, casts, structures or functions of your module")

    def minmax(self, node: ast.Call, is_min: bool) -> Int:
        if len(node.args) < 2 or node.keywords:
            raise self.err(node, "min()/max() take two or more integers")
        vals = [self.as_int(self.expr(a), a) for a in node.args]
        acc = vals[0]
        for v in vals[1:]:
            ta, tb = acc.t or _literal_t(acc.op), v.t or _literal_t(v.op)  # type: ignore[arg-type]
            ct = common_type(ta, tb)
            a, b = self.convert(acc, ct), self.convert(v, ct)
            op = ("slt" if ct.signed else "lt") if is_min else ("sgt" if ct.signed else "gt")
            acc = self.select((op, a, b), a, b)
        return acc

    def mk_cmp(self, op: str, a: Int, b: Int) -> tuple[str, Int, Int]:
        return op, a, b

    def select(self, c: tuple[str, Int, Int], a: Int, b: Int) -> Int:
        op, x, y = c
        ta, tb = a.t or _literal_t(a.op), b.t or _literal_t(b.op)  # type: ignore[arg-type]
        t = common_type(ta, tb)
        res = Int(self.ir.vreg(t), t)
        yes, no, done = self.ir.new_block("sel"), self.ir.new_block("nsel"), self.ir.new_block("endsel")
        if x.const is not None and y.const is not None:
            self.ir.jump(yes if _cmp(op.lstrip("s") if op not in ("set",) else op, x.const, y.const) else no)
        else:
            self.ir.branch(op, x.op, y.op, yes, no)
        self.ir.set_block(yes)
        self.ir.emit(Mov(res.op, self.convert(a, t).op))  # type: ignore[arg-type]
        self.ir.jump(done)
        self.ir.set_block(no)
        self.ir.emit(Mov(res.op, self.convert(b, t).op))  # type: ignore[arg-type]
        self.ir.jump(done)
        self.ir.set_block(done)
        return res

    def inline(self, node: ast.Call, fn: Any) -> Value:
        if len(self.frames) > MAX_INLINE_DEPTH:
            raise self.err(node, f"calls nest deeper than {MAX_INLINE_DEPTH} (recursion is not possible in eBPF)")
        if any(fr.fn is fn for fr in self.frames):
            raise self.err(node, f"{fn.__name__}() calls itself: recursion is not possible in eBPF",
                           hint="write a bounded loop")
        fdef, filename, first, shift, lines = parse_function(fn)
        a = fdef.args
        if a.vararg or a.kwarg or a.kwonlyargs or a.posonlyargs or a.defaults:
            raise self.err(node, f"{fn.__name__}() must take plain positional parameters to be inlined")
        if len(node.args) != len(a.args) or node.keywords:
            raise self.err(node, f"{fn.__name__}() takes {len(a.args)} arguments, {len(node.args)} given")
        values = [self.expr(x) for x in node.args]
        frame = Frame(dict(fn.__globals__), filename, first, shift, lines, name=fn.__name__, fn=fn)
        frame.ret_block = self.ir.new_block("ret")
        ret_ann = fdef.returns
        self.frames.append(frame)
        try:
            if ret_ann is not None and not (isinstance(ret_ann, ast.Constant) and ret_ann.value is None):
                frame.ret_type = self.type_of_annotation(ret_ann)
            for arg, val, src in zip(a.args, values, node.args):
                if arg.annotation is not None and isinstance(val, Int):
                    t = self.type_of_annotation(arg.annotation)
                    v = Int(self.ir.vreg(t, arg.arg), t)
                    self.frames.pop()
                    self.assign_int(v, val, src)
                    self.frames.append(frame)
                    val = v
                elif isinstance(val, Int):
                    t = val.t or _literal_t(val.op)  # type: ignore[arg-type]
                    v = Int(self.ir.vreg(promote(t), arg.arg), promote(t))
                    self.ir.emit(Mov(v.op, self.convert(val, promote(t)).op))  # type: ignore[arg-type]
                    val = v
                frame.vars[arg.arg] = val
                frame.assigned.add(arg.arg)
            self.body(fdef.body)
            self.ir.jump(frame.ret_block)
            self.ir.set_block(frame.ret_block)
        finally:
            self.frames.pop()
        return frame.ret_var if frame.ret_var is not None else Int(0, None)

    # ---- intrinsics (helpers) -----------------------------------------------------------------------------------
    def intrinsic(self, name: str, node: ast.Call, statement: bool) -> Value:
        method = getattr(self, "i_" + name, None)
        if method is None:
            raise self.err(node, f"{name}() is not available in this compiler yet")
        return method(node)

    def no_args(self, node: ast.Call, name: str) -> None:
        if node.args or node.keywords:
            raise self.err(node, f"{name}() takes no arguments")

    def helper(self, hid: int, args: list[Operand], t: IntType | None) -> Int:
        d = self.ir.vreg(t or U64)
        self.def_(Call(hid, args, d), d)
        return Int(d, t or U64)

    def i_pid(self, node: ast.Call) -> Value:
        self.no_args(node, "pid")
        v = self.helper(HelperId.GET_CURRENT_PID_TGID, [], U64)
        d = self.ir.vreg(U32)
        self.def_(Alu("rsh", d, v.op, 32), d)
        return Int(d, U32)

    i_tgid = i_pid

    def i_tid(self, node: ast.Call) -> Value:
        self.no_args(node, "tid")
        return self.convert(self.helper(HelperId.GET_CURRENT_PID_TGID, [], U64), U32)

    def i_uid(self, node: ast.Call) -> Value:
        self.no_args(node, "uid")
        return self.convert(self.helper(HelperId.GET_CURRENT_UID_GID, [], U64), U32)

    def i_gid(self, node: ast.Call) -> Value:
        self.no_args(node, "gid")
        v = self.helper(HelperId.GET_CURRENT_UID_GID, [], U64)
        d = self.ir.vreg(U32)
        self.def_(Alu("rsh", d, v.op, 32), d)
        return Int(d, U32)

    def i_ktime_ns(self, node: ast.Call) -> Value:
        self.no_args(node, "ktime_ns")
        return self.helper(HelperId.KTIME_GET_NS, [], U64)

    def i_cpu(self, node: ast.Call) -> Value:
        self.no_args(node, "cpu")
        return self.helper(HelperId.GET_SMP_PROCESSOR_ID, [], U32)

    def i_random(self, node: ast.Call) -> Value:
        self.no_args(node, "random")
        return self.helper(HelperId.GET_PRANDOM_U32, [], U32)

    def i_current_task(self, node: ast.Call) -> Value:
        self.no_args(node, "current_task")
        return self.helper(HelperId.GET_CURRENT_TASK, [], U64)

    def i_cgroup_id(self, node: ast.Call) -> Value:
        self.no_args(node, "cgroup_id")
        return self.helper(HelperId.GET_CURRENT_CGROUP_ID, [], U64)

    def i_log2(self, node: ast.Call) -> Value:
        if len(node.args) != 1 or node.keywords:
            raise self.err(node, "log2(value) takes one value")
        return self.log2_of(self.as_int(self.expr(node.args[0]), node.args[0]), node)

    def log2_of(self, v: Int, node: ast.AST) -> Int:
        """floor(log2(v)) of v as u64 (0 for 0 and 1): a binary search without branches (each step's test
        `x >> k != 0` is `(t | -t) >> 63`), so a verifier walks one path however often a probe calls it."""
        x = self.ir.vreg(U64)
        self.ir.emit(Mov(x, self.convert(v, U64).op))
        r = self.ir.vreg(U64)
        self.ir.emit(Mov(r, 0))
        for k in (32, 16, 8, 4, 2, 1):
            t, u = self.ir.vreg(U64), self.ir.vreg(U64)
            self.ir.emit(Alu("rsh", t, x, k))
            self.ir.emit(Neg(u, t))
            self.ir.emit(Alu("or", u, u, t))
            self.ir.emit(Alu("rsh", u, u, 63))              # 1 when x >> k is not 0
            if k > 1:
                self.ir.emit(Alu("lsh", u, u, k.bit_length() - 1))  # ... times k
            self.ir.emit(Alu("rsh", x, x, u))
            self.ir.emit(Alu("or", r, r, u))
        self._last_def = None
        return Int(r, U32, (0, 63))

    def i_comm(self, node: ast.Call, into: Mem | None = None) -> Value:
        self.no_args(node, "comm")
        dest = into or Mem(self.ir.slot(16, 8, "comm"), 0, ctypes.c_char * 16)
        self.ir.emit(Call(HelperId.GET_CURRENT_COMM, [self.addr_of(dest), 16], None))
        return dest

    def i_str(self, node: ast.Call, into: Mem | None = None) -> Value:
        return self.read_str(node, user=True, into=into)

    def i_kstr(self, node: ast.Call, into: Mem | None = None) -> Value:
        return self.read_str(node, user=False, into=into)

    def read_str(self, node: ast.Call, user: bool, into: Mem | None = None) -> Value:
        if not 1 <= len(node.args) <= 2 or node.keywords:
            raise self.err(node, "str(pointer[, size]) reads a NUL-terminated string (size: constant, default 64)")
        size = 64
        if len(node.args) == 2:
            s = self.as_int(self.expr(node.args[1]), node.args[1])
            if s.const is None or not 1 <= s.const <= 256:
                raise self.err(node.args[1], "the size must be a constant from 1 to 256")
            size = s.const
        src: Operand
        loc_field = self.data_loc_field(node.args[0])
        if loc_field is not None:  # a __data_loc string of the tracepoint record: ctx + (loc & 0xffff)
            ctx, f = loc_field
            loc = self.ir.vreg(U32)
            self.ir.emit(Load(loc, ctx.v, f.offset, 4))
            self.ir.emit(Alu("and", loc, loc, 0xFFFF))
            p = self.ir.vreg(PtrType("ctx"))
            self.ir.emit(Alu("add", p, ctx.v, loc))
            src, user = p, False
        else:
            src = self.convert(self.as_int(self.expr(node.args[0]), node.args[0]), U64).op
        if into is not None:
            size = ctypes.sizeof(into.ctype)
        dest = into or Mem(self.ir.slot(size, 8, "str"), 0, ctypes.c_char * size)
        if into is None:
            self.zero(dest)
        hid = HelperId.PROBE_READ_USER_STR if user else HelperId.PROBE_READ_KERNEL_STR
        self.ir.emit(Call(hid, [self.addr_of(dest), size, src], None))
        return dest

    def data_loc_field(self, node: ast.expr) -> tuple[Ctx, Field] | None:
        """(ctx, field) when `node` is ctx.NAME of a __data_loc field."""
        if not isinstance(node, ast.Attribute):
            return None
        base = self.expr(node.value) if isinstance(node.value, ast.Name) else None
        if not isinstance(base, Ctx) or base.spec is None:
            return None
        f = base.spec.find(node.attr)
        return (base, f) if f is not None and f.kind == "data_loc" else None

    def i_printk(self, node: ast.Call) -> Value:
        if len(node.args) != 1 or node.keywords:
            raise self.err(node, 'printk takes one string: printk(f"pid {pid()} read {n} bytes")')
        arg = node.args[0]
        fmt, values = "", []
        if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
            fmt = arg.value.replace("%", "%%")
        elif isinstance(arg, ast.JoinedStr):
            for part in arg.values:
                if isinstance(part, ast.Constant):
                    fmt += str(part.value).replace("%", "%%")
                    continue
                assert isinstance(part, ast.FormattedValue)
                spec = ""
                if part.format_spec is not None:
                    if not (isinstance(part.format_spec, ast.JoinedStr) and len(part.format_spec.values) == 1
                            and isinstance(part.format_spec.values[0], ast.Constant)):
                        raise self.err(part, "format specs must be constant")
                    spec = str(part.format_spec.values[0].value)
                v = self.expr(part.value)
                if isinstance(v, Mem) and is_array(v.ctype) and v.ctype._type_ is ctypes.c_char:
                    fmt += "%s"
                    values.append(self.addr_of(v))
                    continue
                iv = self.as_int(v, part.value)
                t = iv.t or _literal_t(iv.op)  # type: ignore[arg-type]
                conv = {"": "lld" if t.signed else "llu", "d": "lld" if t.signed else "llu", "x": "llx",
                        "#x": "#llx", "u": "llu"}.get(spec)
                if conv is None:
                    raise self.err(part, f"format spec {spec!r} is not supported", hint="use {x}, {x:x} or {x:#x}")
                fmt += "%" + conv
                values.append(self.convert(iv, S64 if t.signed else U64).op)
        else:
            raise self.err(arg, "printk takes a string literal or an f-string")
        data = fmt.encode() + b"\0"
        off = len(self.rodata)
        self.rodata += data
        fmt_ref = MapRef(self.rodata_name, off)
        if len(values) <= 3:
            self.ir.emit(Call(HelperId.TRACE_PRINTK, [fmt_ref, len(data), *values], None))
        else:
            if len(values) > 12:
                raise self.err(node, "printk takes at most 12 values")
            slot = self.ir.slot(8 * len(values), 8, "printk")
            for i, v in enumerate(values):
                self.ir.emit(Store(slot, 8 * i, v, 8))
            self.ir.emit(Call(HelperId.TRACE_VPRINTK, [fmt_ref, len(data), SlotAddr(slot), 8 * len(values)], None))
        return Int(0, None)

    # ---- memory: structs, fields --------------------------------------------------------------------------------
    def addr_of(self, m: Mem) -> Operand:
        if isinstance(m.base, StackSlot):
            return SlotAddr(m.base, m.off)
        if m.off == 0:
            return m.base
        d = self.ir.vreg(PtrType("mem"))
        self.ir.emit(Alu("add", d, m.base, m.off))
        return d

    def zero(self, m: Mem, size: int | None = None) -> None:
        size = ctypes.sizeof(m.ctype) if size is None else size
        off = 0
        while off < size:
            w = _width(size - off, m.off + off)
            self.ir.emit(Store(m.base, m.off + off, 0, w))
            off += w

    def struct_value(self, node: ast.Call, cls: Any) -> Mem:
        fields = [f[0] for f in cls._fields_]
        if len(node.args) > len(fields):
            raise self.err(node, f"{cls.__name__} has {len(fields)} fields, {len(node.args)} values given")
        given: dict[str, ast.expr] = dict(zip(fields, node.args))
        for kw in node.keywords:
            if kw.arg is None or kw.arg not in fields:
                raise self.err(kw.value if kw.arg is None else kw, f"{cls.__name__} has no field {kw.arg!r}",
                               hint=f"fields: {', '.join(fields)}")
            given[kw.arg] = kw.value
        slot = self.ir.slot(ctypes.sizeof(cls), max(ctypes.alignment(cls), 8), cls.__name__)
        m = Mem(slot, 0, cls)
        # padding and fields not given are zero (hash keys compare every byte; records reach user space): zero
        # every byte the initialisers below do not certainly write
        covered = bytearray(ctypes.sizeof(cls))
        for name, value_node in given.items():
            fm = self.field_mem(m, name, node)
            if int_type_of_ctype(fm.ctype) is not None or self._fills_whole(value_node):
                covered[fm.off:fm.off + ctypes.sizeof(fm.ctype)] = b"\1" * ctypes.sizeof(fm.ctype)
        self.zero_uncovered(m, covered)
        for name, value_node in given.items():
            self.store_into(self.field_mem(m, name, node), value_node)
        return m

    def _fills_whole(self, node: ast.expr) -> bool:
        """comm() writes all 16 bytes of its buffer (NUL-padded); str() stops at the NUL, so it does not; a copy
        (of a context array, another structure) writes every byte, zero-padding what it does not copy."""
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and \
                isinstance(self.frame.vars.get(node.value.id), Ctx):
            return True
        if isinstance(node, ast.Call) and isinstance(node.func, (ast.Name, ast.Attribute)):
            obj = self.resolve_static(node.func)
            return getattr(obj, "__probe_intrinsic__", None) == "comm"
        return False

    def zero_uncovered(self, m: Mem, covered: bytearray) -> None:
        """Store zeros over the bytes of `m` not marked in `covered`, in the widest aligned stores that fit."""
        size = len(covered)
        off = 0
        while off < size:
            if covered[off]:
                off += 1
                continue
            for w in (8, 4, 2, 1):
                if (m.off + off) % w == 0 and off + w <= size and not any(covered[off:off + w]):
                    break
            self.ir.emit(Store(m.base, m.off + off, 0, w))
            off += w

    def field_mem(self, m: Mem, name: str, node: ast.AST) -> Mem:
        cls = m.ctype
        for fdesc in cls._fields_:
            if fdesc[0] == name:
                if len(fdesc) > 2:
                    raise self.err(node, f"bit field {cls.__name__}.{name} is not supported")
                d = getattr(cls, name)
                return Mem(m.base, m.off + d.offset, fdesc[1],
                           issubclass(cls, ctypes.BigEndianStructure) if isinstance(cls, type) else False)
        raise self.err(node, f"{cls.__name__} has no field {name!r}",
                       hint=f"fields: {', '.join(f[0] for f in cls._fields_)}")

    def mem_field(self, base: Mem, node: ast.Attribute) -> Value:
        if not is_struct(base.ctype):
            raise self.err(node, f"a {_kind(base)} has no field {node.attr!r}")
        m = self.field_mem(base, node.attr, node)
        if int_type_of_ctype(m.ctype) is not None:
            return self.read_mem(m, node)
        return m

    def mem_index(self, base: Mem, node: ast.Subscript) -> Value:
        i = self.const_index(node.slice, base.ctype._length_)
        et = base.ctype._type_
        m = Mem(base.base, base.off + i * ctypes.sizeof(et), et, base.big_endian)
        return self.read_mem(m, node) if int_type_of_ctype(et) is not None else m

    def read_mem(self, m: Mem, node: ast.AST) -> Int:
        t = int_type_of_ctype(m.ctype)
        if t is None:
            raise self.err(node, f"expected an integer field, got {getattr(m.ctype, '__name__', m.ctype)}")
        d = self.ir.vreg(t)
        if m.big_endian and t.bits > 8:  # network order (ctypes.BigEndianStructure): load, swap, extend
            raw = self.ir.vreg(t)
            self.ir.emit(Load(raw, m.base, m.off, t.size, False))
            if t.signed:
                sw = self.ir.vreg(t)
                self.ir.emit(Bswap(sw, raw, t.bits))
                self.def_(Ext(d, sw, t.bits, True), d)
            else:
                self.def_(Bswap(d, raw, t.bits), d)
            return Int(d, t)
        self.def_(Load(d, m.base, m.off, t.size, t.signed), d)
        return Int(d, t)

    def store_int(self, m: Mem, v: Int) -> None:
        t = int_type_of_ctype(m.ctype)
        assert t is not None
        val = self.convert(v, t)
        if m.big_endian and t.bits > 8:
            if val.const is not None:
                val = Int(int.from_bytes((val.const & t.mask).to_bytes(t.size, "big"), "little"), t)
            else:
                sw = self.ir.vreg(t)
                self.ir.emit(Bswap(sw, val.op, t.bits))
                val = Int(sw, t)
        self.ir.emit(Store(m.base, m.off, val.op, t.size))

    def store_into(self, dest: Mem, value_node: ast.expr) -> None:
        """dest = value: integers stored, strings/structs copied, string helpers write straight into dest."""
        t = int_type_of_ctype(dest.ctype)
        if t is not None:
            self.store_int(dest, self.as_int(self.expr(value_node), value_node))
            return
        if isinstance(value_node, ast.Call):
            name = None
            fobj = self.resolve_static(value_node.func) if isinstance(value_node.func, (ast.Name, ast.Attribute)) \
                else None
            import builtins

            if fobj is builtins.str:
                name = "str"
            elif fobj is not None:
                name = getattr(fobj, "__probe_intrinsic__", None)
            if name in ("comm", "str", "kstr"):
                if not is_array(dest.ctype):
                    raise self.err(value_node, "a string goes into a char array field")
                getattr(self, "i_" + name)(value_node, into=dest)
                return
        v = self.expr(value_node)
        if isinstance(v, Mem):
            self.copy(dest, v, value_node)
            return
        if isinstance(v, CtxArray) and is_array(dest.ctype):  # char comm[16] of a tracepoint record, ...
            f = v.field
            n = min(ctypes.sizeof(dest.ctype), f.size * f.count)
            off = 0
            while off < n:  # the kernel wants context loads aligned to their size
                w = _width(n - off, f.offset + off, dest.off + off)
                d = self.ir.vreg(U64)
                self.ir.emit(Load(d, v.ctx.v, f.offset + off, w))
                self.ir.emit(Store(dest.base, dest.off + off, d, w))
                off += w
            if ctypes.sizeof(dest.ctype) > n:
                self.zero(Mem(dest.base, dest.off + n, ctypes.c_char * (ctypes.sizeof(dest.ctype) - n)))
            return
        raise self.err(value_node, f"cannot store a {_kind(v)} in a {getattr(dest.ctype, '__name__', 'field')}")

    def copy(self, dest: Mem, src: Mem, node: ast.AST) -> None:
        n = min(ctypes.sizeof(dest.ctype), ctypes.sizeof(src.ctype))
        if ctypes.sizeof(dest.ctype) != ctypes.sizeof(src.ctype) and not (is_array(dest.ctype) and is_array(src.ctype)):
            raise self.err(node, "cannot copy between objects of different types")
        off = 0
        while off < n:
            w = _width(n - off, src.off + off, dest.off + off)
            d = self.ir.vreg(U64)
            self.ir.emit(Load(d, src.base, src.off + off, w))
            self.ir.emit(Store(dest.base, dest.off + off, d, w))
            off += w
        if ctypes.sizeof(dest.ctype) > n:
            self.zero(Mem(dest.base, dest.off + n, ctypes.c_char * (ctypes.sizeof(dest.ctype) - n)))

    def lvalue_mem(self, node: ast.Attribute) -> Mem:
        item = self.map_struct_item(node.value)
        if item is not None:  # m[k].field = ...: the value in the map, inserted zeroed when absent
            info, sub = item
            return self.field_mem(self.lookup_or_init(info, sub), node.attr, node)
        base = self.expr(node.value)
        if isinstance(base, Mem) and is_struct(base.ctype):
            return self.field_mem(base, node.attr, node)
        if isinstance(base, Ctx):
            raise self.err(node, "context fields are read-only here")
        raise self.err(node, f"cannot assign a field of a {_kind(base)}")

    # ---- context ------------------------------------------------------------------------------------------------
    def ctx_field(self, ctx: Ctx, node: ast.Attribute) -> Value:
        spec = ctx.spec
        if spec is None:
            raise self.err(node, "this program type's context has no known fields",
                           hint="attach to a tracepoint, raw_tp, kprobe, xdp or tc section")
        f = spec.find(node.attr)
        if f is None:
            names = ", ".join(sorted(spec.fields))
            raise self.err(node, f"{spec.name} has no field {node.attr!r}", hint=f"fields: {names}")
        if f.count > 1:
            return CtxArray(ctx, f)
        return self.load_ctx(ctx, f, node)

    def load_ctx(self, ctx: Ctx, f: Field, node: ast.AST) -> Value:
        if f.kind in ("packet", "packet_end"):
            d = self.ir.vreg(PtrType(f.kind))
            self.ir.emit(Load(d, ctx.v, f.offset, f.size))
            return Ptr(d, f.kind)
        if f.size not in (1, 2, 4, 8):
            raise self.err(node, f"field {f.name} of {f.size} bytes is not an integer")
        t = INT_TYPES[("s" if f.signed else "u") + str(8 * f.size)]
        d = self.ir.vreg(t)
        # the kernel rewrites ctx loads and refuses BPF_MEMSX on them: load unsigned, then sign-extend
        self.def_(Load(d, ctx.v, f.offset, f.size, False), d)
        if f.signed and f.size < 8:
            e = self.ir.vreg(t)
            self.def_(Ext(e, d, 8 * f.size, True), e)
            d = e
        return Int(d, t)

    def entry_ctx_load(self, ctx: Ctx, f: Field) -> Ptr:
        """ctx.data / ctx.data_end loaded once, in the entry block (which dominates every use)."""
        cached = self._ctx_loads.get(f.name)
        if cached is None:
            d = self.ir.vreg(PtrType(f.kind))
            entry = self.ir.fn.blocks[0]
            at = next((i + 1 for i, insn in enumerate(entry.insns) if isinstance(insn, Param)), 0)
            load = Load(d, ctx.v, f.offset, f.size)
            load.loc = entry.insns[at - 1].loc if at else None  # type: ignore[attr-defined]
            entry.insns.insert(at, load)
            cached = self._ctx_loads[f.name] = Ptr(d, f.kind)
        return cached

    def packet_header(self, node: ast.Call, ctx: Ctx) -> Value:
        """ctx.header(Struct[, offset]): the header at `offset` in the packet; when the packet is too short the
        probe returns its default verdict (the bounds check the verifier needs is generated here)."""
        if not 1 <= len(node.args) <= 2 or node.keywords:
            raise self.err(node, "ctx.header(HeaderStruct, offset=0)")
        cls = self.resolve_static(node.args[0])
        if not is_struct(cls):
            raise self.err(node.args[0], "ctx.header() takes a ctypes Structure class")
        spec = ctx.spec
        data_f = spec.find("data") if spec else None
        end_f = spec.find("data_end") if spec else None
        if data_f is None or end_f is None or data_f.kind != "packet":
            raise self.err(node, "ctx.header() needs a packet program (xdp, tc)")
        off = Int(0, None) if len(node.args) == 1 else self.as_int(self.expr(node.args[1]), node.args[1])
        data = self.entry_ctx_load(ctx, data_f)
        end = self.entry_ctx_load(ctx, end_f)
        assert isinstance(data, Ptr) and isinstance(end, Ptr)
        start = data if off.const == 0 else self.ptr_offset(data, off, "add", node)
        stop = self.ptr_offset(start, Int(ctypes.sizeof(cls), None), "add", node)
        ok, short = self.ir.new_block("hdr"), self.ir.new_block("short")
        self.ir.branch("gt", stop.v, end.v, short, ok)
        self.ir.set_block(short)
        self.ir.terminate(Return(self.default_return))
        self.ir.set_block(ok)
        return Mem(start.v, 0, cls, issubclass(cls, ctypes.BigEndianStructure))

    # ---- maps ---------------------------------------------------------------------------------------------------
    def map_of(self, node: ast.expr) -> tuple[MapInfo, str]:
        v = self.expr(node)
        if not (isinstance(v, Obj) and hasattr(v.value, "__probe_map__")):
            raise self.err(node, f"expected a map, got a {_kind(v)}")
        info = v.value.__probe_map__
        return info, info.name

    def key_addr(self, info: MapInfo, key_node: ast.expr) -> Operand:
        kt = info.key_ctype
        if kt is None:
            raise self.err(key_node, f"{info.type.name.lower()} maps have no keys")
        it = int_type_of_ctype(kt)
        if it is not None:
            kv = self.expr(key_node)
            if not isinstance(kv, Int):
                raise self.err(key_node, f"the key must be a {it.name}, not a {_kind(kv)}")
            v = kv
            slot = self.ir.slot(it.size, max(it.size, 1), "key")
            self.ir.emit(Store(slot, 0, self.convert(v, it).op, it.size))
            return SlotAddr(slot)
        if isinstance(key_node, ast.Tuple) and is_struct(kt):  # m[a, b]: the fields of the key structure
            fake = ast.Call(func=ast.Name("_"), args=key_node.elts, keywords=[])
            ast.copy_location(fake, key_node)
            return self.addr_of(self.struct_value(fake, kt))
        v = self.expr(key_node)
        if isinstance(v, Mem) and v.ctype is kt:
            return self.addr_of(v)
        raise self.err(key_node, f"the key must be a {getattr(kt, '__name__', kt)}")

    def lookup(self, info: MapInfo, key: Operand) -> VReg:
        p = self.ir.vreg(PtrType("map_value_or_null", info.value_ctype))
        self.ir.emit(Call(HelperId.MAP_LOOKUP_ELEM, [MapRef(info.name), key], p))  # type: ignore[arg-type]
        return p

    def lookup_or_init(self, info: MapInfo, sub: ast.Subscript) -> Mem:
        """The map value of key sub.slice, inserting a zeroed value first when absent (bcc's lookup_or_try_init).
        If the key cannot be inserted (map full) the probe returns its default value."""
        if info.type in (MapType.RINGBUF,):
            raise self.err(sub, "ring buffers have no values to update")
        key = self.key_addr(info, sub.slice)
        p = self.lookup(info, key)
        have, missing = self.ir.new_block("have"), self.ir.new_block("init")
        self.ir.branch("ne", p, 0, have, missing)
        self.ir.set_block(missing)
        if info.type in ARRAY_TYPES:
            self.ir.terminate(Return(self.default_return))
        else:
            size = ctypes.sizeof(info.value_ctype)
            zero = self.ir.slot(size, 8, "zero")
            self.zero(Mem(zero, 0, info.value_ctype))
            self.ir.emit(Call(HelperId.MAP_UPDATE_ELEM, [MapRef(info.name), key, SlotAddr(zero),
                                                          UpdateFlags.NOEXIST], None))
            self.ir.emit(Call(HelperId.MAP_LOOKUP_ELEM, [MapRef(info.name), key], p))
            gone = self.ir.new_block("gone")
            self.ir.branch("ne", p, 0, have, gone)
            self.ir.set_block(gone)
            self.ir.terminate(Return(self.default_return))
        self.ir.set_block(have)
        return Mem(p, 0, info.value_ctype)

    def map_read(self, node: ast.Subscript, obj_or_info: Any, default: ast.expr | None) -> Value:
        info: MapInfo = obj_or_info
        vt = info.value_ctype
        it = int_type_of_ctype(vt)
        if it is None:
            if is_struct(vt):
                raise self.err(node, "reading a whole structure value is not supported yet",
                               hint="read one field: m[k].field (0 when the key is absent)")
            raise self.err(node, f"cannot read values of {info.type.name.lower()} maps")
        key = self.key_addr(info, node.slice)
        res = Int(self.ir.vreg(it), it)
        dv = Int(0, None) if default is None else self.as_int(self.expr(default), default)
        self.ir.emit(Mov(res.op, self.convert(dv, it).op))  # type: ignore[arg-type]
        p = self.lookup(info, key)
        found, done = self.ir.new_block("found"), self.ir.new_block("endget")
        self.ir.branch("ne", p, 0, found, done)
        self.ir.set_block(found)
        self.ir.emit(Load(res.op, p, 0, it.size, it.signed))  # type: ignore[arg-type]
        self.ir.jump(done)
        self.ir.set_block(done)
        return res

    def map_store(self, target: ast.Subscript, value_node: ast.expr) -> None:
        info, name = self.map_of(target.value)
        if info.type in (MapType.RINGBUF, MapType.PERF_EVENT_ARRAY, MapType.STACK_TRACE):
            raise self.err(target, f"{info.type.name.lower()} maps cannot be assigned",
                           hint="use events.output(Event(...))" if info.type == MapType.RINGBUF else "")
        key = self.key_addr(info, target.slice)
        vt = info.value_ctype
        it = int_type_of_ctype(vt)
        if it is not None:
            v = self.as_int(self.expr(value_node), value_node)
            slot = self.ir.slot(it.size, max(it.size, 1), "val")
            self.ir.emit(Store(slot, 0, self.convert(v, it).op, it.size))
            val: Operand = SlotAddr(slot)
        else:
            m = self.expr(value_node)
            if not (isinstance(m, Mem) and m.ctype is vt):
                raise self.err(value_node, f"the value must be a {getattr(vt, '__name__', vt)}")
            val = self.addr_of(m)
        self.ir.emit(Call(HelperId.MAP_UPDATE_ELEM, [MapRef(name), key, val, UpdateFlags.ANY], None))

    def map_update_op(self, target: ast.Subscript, op: str, value_node: ast.expr, node: ast.AST) -> None:
        """m[k] OP= v: lookup; found: update in place (atomically for +=, -=, |=, &=, ^= on shared maps);
        absent: insert (0 OP v) with BPF_NOEXIST, and if another CPU inserted first, update that one."""
        info, name = self.map_of(target.value)
        it = int_type_of_ctype(info.value_ctype)
        if it is None:
            raise self.err(target, "m[k] += v needs integer values", hint="m[k].field += v for structure values")
        key = self.key_addr(info, target.slice)
        self.rmw(info, key, op, self.as_int(self.expr(value_node), value_node), node)

    def rmw(self, info: MapInfo, key: Operand, op: str, value: Int, node: ast.AST) -> None:
        """m[key] OP= value for an integer-valued map, `key` already in memory."""
        name = info.name
        it = int_type_of_ctype(info.value_ctype)
        assert it is not None and name is not None
        v = self.convert(value, it)
        atomic = op in ("add", "sub") and it.size in (4, 8) and info.type not in PERCPU_TYPES
        if atomic and op == "sub":
            nv = self.ir.vreg(it)
            if v.const is not None:
                v = Int(it.wrap(-v.const), it)
            else:
                self.ir.emit(Neg(nv, v.op, True))
                v = Int(nv, it)
        done = self.ir.new_block("endupd")

        def update_found(p: VReg) -> None:
            if atomic:
                self.ir.emit(AtomicAdd(p, 0, v.op, it.size))  # type: ignore[union-attr]
            else:
                cur = self.ir.vreg(it)
                self.ir.emit(Load(cur, p, 0, it.size, it.signed))  # type: ignore[union-attr]
                res = self.binop(op, Int(cur, it), v, node)  # type: ignore[arg-type]
                self.ir.emit(Store(p, 0, self.convert(res, it).op, it.size))  # type: ignore[union-attr]

        p = self.lookup(info, key)
        found, missing = self.ir.new_block("hit"), self.ir.new_block("miss")
        self.ir.branch("ne", p, 0, found, missing)
        self.ir.set_block(found)
        update_found(p)
        self.ir.jump(done)
        self.ir.set_block(missing)
        if info.type in ARRAY_TYPES:  # an array's elements all exist: a miss is an index out of range
            self.ir.jump(done)
        else:
            init = c_binop(op, 0, 0, it) if v.const is None else None
            slot = self.ir.slot(it.size, max(it.size, 1), "init")
            if op in ("add", "or", "xor"):
                self.ir.emit(Store(slot, 0, v.op, it.size))
            elif op == "sub" and atomic:
                self.ir.emit(Store(slot, 0, v.op, it.size))
            else:
                first = self.binop(op, Int(0, it), v, node)
                self.ir.emit(Store(slot, 0, self.convert(first, it).op, it.size))
            del init
            r = self.ir.vreg(S64)
            self.ir.emit(Call(HelperId.MAP_UPDATE_ELEM, [MapRef(name), key, SlotAddr(slot), UpdateFlags.NOEXIST], r))
            raced = self.ir.new_block("raced")
            self.ir.branch("ne", r, 0, raced, done)
            self.ir.set_block(raced)
            p2 = self.lookup(info, key)
            again = self.ir.new_block("hit2")
            self.ir.branch("ne", p2, 0, again, done)
            self.ir.set_block(again)
            update_found(p2)
            self.ir.jump(done)
        self.ir.set_block(done)

    def membership(self, key_node: ast.expr, map_node: ast.expr, t: Block, f: Block) -> None:
        info, _ = self.map_of(map_node)
        key = self.key_addr(info, key_node)
        p = self.lookup(info, key)
        self.ir.branch("ne", p, 0, t, f)

    def map_method(self, node: ast.Call, obj: Any, method: str, statement: bool) -> Value:
        info: MapInfo = obj.__probe_map__
        if method == "get" and info.type not in (MapType.RINGBUF,):
            if not 1 <= len(node.args) <= 2 or node.keywords:
                raise self.err(node, "m.get(key, default=0)")
            fake = ast.Subscript(value=node.func.value, slice=node.args[0], ctx=ast.Load())  # type: ignore[attr-defined]
            ast.copy_location(fake, node)
            return self.map_read(fake, info, node.args[1] if len(node.args) == 2 else None)
        if method == "output" and info.type == MapType.RINGBUF:
            if len(node.args) != 1 or node.keywords:
                raise self.err(node, "events.output(Event(...)) takes one record")
            v = self.expr(node.args[0])
            if isinstance(v, Mem):
                addr, size = self.addr_of(v), ctypes.sizeof(v.ctype)
            else:
                iv = self.as_int(v, node.args[0])
                slot = self.ir.slot(8, 8, "rec")
                self.ir.emit(Store(slot, 0, self.convert(iv, U64).op, 8))
                addr, size = SlotAddr(slot), 8
            self.ir.emit(Call(HelperId.RINGBUF_OUTPUT, [MapRef(info.name), addr, size, 0], None))  # type: ignore[arg-type]
            return Int(0, None)
        if method in ("kstack", "ustack") and info.type == MapType.STACK_TRACE:
            if node.args or node.keywords:
                raise self.err(node, f"stacks.{method}() takes no arguments")
            ctx = self.frames[0].vars.get(self._ctx_name) if self._ctx_name else None
            if not isinstance(ctx, Ctx):
                raise self.err(node, f"stacks.{method}() needs the probe's context parameter (def probe(ctx): ...)")
            flags = int(HelperFlags.USER_STACK) if method == "ustack" else 0
            # bpf_get_stackid: the stack's id in the map (s64; negative when it could not be taken)
            return self.helper(HelperId.GET_STACKID, [ctx.v, MapRef(info.name), flags], S64)  # type: ignore[list-item]
        if method == "record" and info.display == "log2":
            if len(node.args) != 1 or node.keywords:
                raise self.err(node, "hist.record(value) takes one value")
            bucket = self.log2_of(self.as_int(self.expr(node.args[0]), node.args[0]), node)
            slot = self.ir.slot(4, 4, "bucket")
            self.ir.emit(Store(slot, 0, bucket.op, 4))
            self.rmw(info, SlotAddr(slot), "add", Int(1, None), node)
            return Int(0, None)
        if method == "pop":
            raise self.err(node, "m.pop() is not supported in probes", hint="read m[k], then del m[k]")
        raise self.err(node.func, f"{info.type.name.lower()} maps have no method {method!r} in probes",
                       hint="m[k], m.get(k, d), k in m, del m[k], m[k] += v; events.output(record) for ring buffers")


# ---- C integer semantics (constant folding, also the reference the tests check the compiled code against) ------

def c_binop(op: str, a: int, b: int, t: IntType) -> int:
    """a OP b in type t with eBPF's definitions where C leaves it undefined: x / 0 = 0, x % 0 = x, shift counts
    taken modulo the width, signed division truncating toward zero (INT_MIN / -1 wraps to INT_MIN)."""
    a, b = t.wrap(a), t.wrap(b) if op not in ("lsh", "rsh", "arsh") else b
    if op == "add":
        r = a + b
    elif op == "sub":
        r = a - b
    elif op == "mul":
        r = a * b
    elif op in ("div", "mod"):
        if b == 0:
            r = 0 if op == "div" else a
        else:
            q = abs(a) // abs(b)
            if (a < 0) != (b < 0):
                q = -q
            r = q if op == "div" else a - q * b
    elif op == "and":
        r = a & b
    elif op == "or":
        r = a | b
    elif op == "xor":
        r = a ^ b
    elif op == "lsh":
        r = a << (b & (t.bits - 1))
    elif op in ("rsh", "arsh"):
        r = a >> (b & (t.bits - 1))  # Python's >> is arithmetic on signed values, logical on unsigned ones
    else:
        raise ValueError(op)
    return t.wrap(r)


def _result_range(op: str, a: tuple[int, int], b: tuple[int, int]) -> tuple[int, int] | None:
    """Bounds of a OP b computed exactly (before any wrap-around), or None when not tracked."""
    (alo, ahi), (blo, bhi) = a, b
    if op == "add":
        return alo + blo, ahi + bhi
    if op == "sub":
        return alo - bhi, ahi - blo
    if op == "mul":
        corners = (alo * blo, alo * bhi, ahi * blo, ahi * bhi)
        return min(corners), max(corners)
    if op == "and":
        if alo >= 0 and blo >= 0:
            return 0, min(ahi, bhi)
        if alo >= 0 or blo >= 0:
            return 0, ahi if alo >= 0 else bhi
        return None
    if op in ("or", "xor") and alo >= 0 and blo >= 0:
        return 0, (1 << max(ahi, bhi).bit_length()) - 1
    if op == "lsh" and blo == bhi and alo >= 0:
        return alo << blo, ahi << blo
    if op in ("rsh", "arsh") and blo == bhi and alo >= 0:
        return alo >> blo, ahi >> blo
    if op == "div" and alo >= 0 and blo > 0:
        return alo // bhi, ahi // blo
    if op == "mod" and alo >= 0 and blo > 0:
        return 0, min(ahi, bhi - 1)
    return None


def _width(left: int, *offsets: int) -> int:
    """The widest access (8, 4, 2, 1 bytes) that fits in `left` bytes and is aligned at every offset (stack and
    context accesses must be naturally aligned; objects start 8-aligned)."""
    return next(w for w in (8, 4, 2, 1) if w <= left and all(o % w == 0 for o in offsets))


def _cmp(op: str, a: int, b: int) -> bool:
    return {"eq": a == b, "ne": a != b, "gt": a > b, "ge": a >= b, "lt": a < b, "le": a <= b}[op.lstrip("s")]


def _literal_t(value: Any) -> IntType:
    """C's type for a literal: int if it fits, else long, else unsigned long."""
    if -(1 << 31) <= value < (1 << 31):
        return S32
    return S64 if -(1 << 63) <= value < (1 << 63) else U64


def _is_bound(frame: Frame, v: VReg) -> bool:
    return any(isinstance(x, Int) and x.op is v for x in frame.vars.values())


def _kind(v: Any) -> str:
    if isinstance(v, Int):
        return "integer"
    if isinstance(v, Mem):
        return getattr(v.ctype, "__name__", "memory object")
    if isinstance(v, Ctx):
        return "context"
    if isinstance(v, Ptr):
        return f"{v.kind} pointer"
    if isinstance(v, Str):
        return "string"
    if isinstance(v, CtxArray):
        return "context array"
    if isinstance(v, Obj):
        return getattr(v.value, "__name__", type(v.value).__name__)
    return type(v).__name__


def _describe(node: ast.AST) -> str:
    return {"List": "a list", "Dict": "a dict", "Set": "a set", "Tuple": "a tuple", "Lambda": "lambda",
            "ListComp": "a list comprehension", "DictComp": "a dict comprehension", "SetComp": "a set comprehension",
            "GeneratorExp": "a generator expression", "Await": "await", "Yield": "yield", "YieldFrom": "yield",
            "Starred": "*unpacking", "NamedExpr": "the walrus operator :=", "Slice": "slicing"}.get(
        type(node).__name__, type(node).__name__)


_BINOPS = {ast.Add: "add", ast.Sub: "sub", ast.Mult: "mul", ast.FloorDiv: "div", ast.Mod: "mod", ast.LShift: "lsh",
           ast.RShift: "rsh", ast.BitAnd: "and", ast.BitOr: "or", ast.BitXor: "xor"}
_OPNAMES = {ast.Div: "/", ast.Pow: "**", ast.MatMult: "@"}
_CMPOPS = {ast.Eq: "eq", ast.NotEq: "ne", ast.Lt: "lt", ast.LtE: "le", ast.Gt: "gt", ast.GtE: "ge"}


def _binop_hint(op: ast.operator) -> str:
    if isinstance(op, ast.Div):
        return "eBPF has no floating point: use // for integer division"
    if isinstance(op, ast.Pow):
        return "write the multiplication out, or use << for powers of two"
    return "supported: + - * // % << >> & | ^"


_STMT_HINTS = {
    "Try": "there are no exceptions in eBPF: check values with if", "Raise": "return a value instead",
    "With": "no context managers in probes", "Import": "import at module level; probes use what the module names",
    "ImportFrom": "import at module level", "Global": "use a map for state shared between runs",
    "Nonlocal": "use a map for state shared between runs", "ClassDef": "define classes at module level",
    "FunctionDef": "define helper functions at module level: they are inlined",
    "AsyncFunctionDef": "probes are not async", "Assert": "use if ...: return", "Match": "use if/elif",
    "AsyncFor": "probes are not async", "AsyncWith": "probes are not async",
}
_EXPR_HINTS = {
    "List": "use a map, or a ctypes array field in a Structure", "Dict": "use HashMap(...) at module level",
    "Set": "use a HashMap with the items as keys", "Tuple": "use a ctypes Structure",
    "Lambda": "define a function at module level (it is inlined)", "ListComp": "use a for loop over range(N)",
    "DictComp": "use a for loop and a map", "SetComp": "use a for loop and a map", "GeneratorExp": "use a for loop",
    "NamedExpr": "assign on its own line", "Slice": "index one element at a time",
    "Starred": "pass arguments one by one",
}

__all__ = ["PythonFrontEnd", "c_binop", "parse_function"]
