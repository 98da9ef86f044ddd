"""Conditions: truth values, branches on comparisons, and/or/not short-circuit."""
from __future__ import annotations

import ast

from pyebpf.compiler.ir import Block, Mov
from pyebpf.compiler.pyfront.cint import c_compare, literal_type
from pyebpf.compiler.pyfront.hints import CMPOPS
from pyebpf.compiler.pyfront.values import Int, Ptr, Value
from pyebpf.compiler.types import S32, common_type


class ConditionsMixin:
    """Conditions of `PythonFrontEnd` (a mixin; the state lives in frontend.py)."""

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
        base = CMPOPS[type(cop)]
        if isinstance(left, Ptr) or isinstance(right, Ptr):
            if not (isinstance(left, Ptr) and isinstance(right, Ptr)):
                raise self.err(node, "a pointer can only be compared with a pointer",
                               hint="compare ctx.data + N with ctx.data_end")
            self.ir.branch(base, left.v, right.v, t, f)
            return
        a, b = self.as_int(left, node), self.as_int(right, node)
        ta = a.t or literal_type(a.op)  # type: ignore[arg-type]
        tb = b.t or literal_type(b.op)  # type: ignore[arg-type]
        ct = common_type(ta, tb)
        if a.const is not None and b.const is not None:
            self.ir.jump(t if c_compare(base, ct.wrap(a.const), ct.wrap(b.const)) else f)
            return
        av, bv = self.convert(a, ct), self.convert(b, ct)
        op = ("s" + base) if ct.signed and base not in ("eq", "ne") else base
        self.ir.branch(op, av.op, bv.op, t, f)
