"""Calls: builtins, casts, structures, module functions inlined, intrinsic dispatch, min/max selects."""
from __future__ import annotations

import ast
import inspect
from typing import Any

from pyebpf.compiler.ir import Call, Mov, Operand
from pyebpf.compiler.pyfront.cint import c_compare, literal_type
from pyebpf.compiler.pyfront.source import parse_function
from pyebpf.compiler.pyfront.subprograms import is_subprogram
from pyebpf.compiler.pyfront.values import MAX_INLINE_DEPTH, Ctx, Frame, Int, Obj, Value, kind_of
from pyebpf.compiler.symbols import is_struct
from pyebpf.compiler.types import S64, U64, IntType, common_type, promote


class CallsMixin:
    """Calls of `PythonFrontEnd` (a mixin; the state lives in frontend.py)."""

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
            raise self.err(func, f"a {kind_of(recv)} has no method {func.attr!r}")
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
            if is_subprogram(obj):
                return self.local_call(node, obj)
            return self.inline(node, obj)
        raise self.err(node, f"{getattr(obj, '__name__', obj)!r} cannot be called in a probe",
                       hint="call helpers from pyebpf.probe, casts, structures or functions of your module")

    def minmax(self, node: ast.Call, is_min: bool) -> Int:
        if len(node.args) < 2 or node.keywords:
            raise self.err(node, "min()/max() take two or more integers")
        vals = [self.as_int(self.expr(a), a) for a in node.args]
        acc = vals[0]
        for v in vals[1:]:
            ta, tb = acc.t or literal_type(acc.op), v.t or literal_type(v.op)  # type: ignore[arg-type]
            ct = common_type(ta, tb)
            a, b = self.convert(acc, ct), self.convert(v, ct)
            op = ("slt" if ct.signed else "lt") if is_min else ("sgt" if ct.signed else "gt")
            acc = self.select((op, a, b), a, b)
        return acc

    def mk_cmp(self, op: str, a: Int, b: Int) -> tuple[str, Int, Int]:
        return op, a, b

    def select(self, c: tuple[str, Int, Int], a: Int, b: Int) -> Int:
        op, x, y = c
        ta, tb = a.t or literal_type(a.op), b.t or literal_type(b.op)  # type: ignore[arg-type]
        t = common_type(ta, tb)
        res = Int(self.ir.vreg(t), t)
        yes, no, done = self.ir.new_block("sel"), self.ir.new_block("nsel"), self.ir.new_block("endsel")
        if x.const is not None and y.const is not None:
            self.ir.jump(yes if c_compare(op.lstrip("s") if op not in ("set",) else op, x.const, y.const) else no)
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
                    t = val.t or literal_type(val.op)  # type: ignore[arg-type]
                    v = Int(self.ir.vreg(promote(t), arg.arg), promote(t), kt=val.kt,
                            kdirect=val.kdirect)  # a kernel pointer stays one
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
