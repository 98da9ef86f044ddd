"""Expressions: constants, names and globals, attributes, subscripts, operators, f-strings."""
from __future__ import annotations

import ast
from typing import Any

from pyebpf.compiler.context import Field
from pyebpf.compiler.ir import Alu, Block, Load, Mov, Neg
from pyebpf.compiler.pyfront.cint import literal_type
from pyebpf.compiler.pyfront.hints import BINOPS, EXPR_HINTS, OPNAMES, binop_hint, describe
from pyebpf.compiler.pyfront.values import NAMED_CONSTANTS, Ctx, CtxArray, Int, Mem, Obj, Ptr, Str, Value, kind_of, KRef
from pyebpf.compiler.symbols import is_array
from pyebpf.compiler.types import U64, common_type, int_type_of_ctype, promote


class ExpressionsMixin:
    """Expressions of `PythonFrontEnd` (a mixin; the state lives in frontend.py)."""

    # ---- expressions --------------------------------------------------------------------------------------------
    def expr(self, node: ast.expr, statement: bool = False) -> Value:
        method = getattr(self, "e_" + type(node).__name__, None)
        if method is None:
            raise self.err(node, f"{describe(node)} is not supported in probes",
                           hint=EXPR_HINTS.get(type(node).__name__, "see docs/probes.md for the supported subset"))
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
    def e_Attribute(self, node: ast.Attribute) -> Value:
        item = self.map_struct_item(node.value)
        if item is not None:  # m[k].field: the field of the value, 0 when the key is absent
            info, sub = item
            fm = self.field_mem(Mem(self.ir.vreg(U64), 0, info.value_ctype), node.attr, node)
            it = int_type_of_ctype(fm.ctype)
            if it is None:
                raise self.err(node, f"{node.attr} is not an integer field")
            res = Int(self.ir.vreg(it), it)
            p, nonnull = self.lookup_key(info, sub.slice)
            if nonnull:
                self.ir.emit(Load(res.op, p, fm.off, it.size, it.signed))  # type: ignore[arg-type]
                return res
            self.ir.emit(Mov(res.op, 0))  # type: ignore[arg-type]
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
        if isinstance(base, KRef) or (isinstance(base, Int) and base.kt is not None):
            return self.kernel_attr(base, node)
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
        raise self.err(node, f"a {kind_of(base)} has no attribute {node.attr!r}")

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
        if isinstance(base, KRef) or (isinstance(base, Int) and base.kt is not None):
            return self.kernel_index(base, node)
        raise self.err(node, f"a {kind_of(base)} cannot be subscripted")

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
                vt = literal_type(value) if -(1 << 63) <= value < (1 << 64) else U64
                t = common_type(base.t or literal_type(base.const), vt)
                return Int(t.wrap(value), t)
            raise self.err(node, "operator ** is only supported between constants",
                           hint="write the multiplication out, or use << for powers of two")
        op = BINOPS.get(type(node.op))
        if op is None:
            raise self.err(node, f"operator {OPNAMES.get(type(node.op), type(node.op).__name__)} is not "
                                 f"supported", hint=binop_hint(node.op))
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
        t = promote(v.t) if v.t is not None else literal_type(v.op)  # type: ignore[arg-type]
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
        t = pairs[0][1].t or literal_type(pairs[0][1].op)  # type: ignore[arg-type]
        for _, v in pairs[1:]:
            t = common_type(t, v.t or literal_type(v.op))  # type: ignore[arg-type]
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
        ta = a.t or literal_type(a.op)  # type: ignore[arg-type]
        tb = b.t or literal_type(b.op)  # type: ignore[arg-type]
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
