"""Integers with C semantics: typing, conversion, binary operators, signed division, pointer offsets."""
from __future__ import annotations

import ast
from typing import Any

from pyebpf.compiler.ir import Alu, Ext, Operand, VReg
from pyebpf.compiler.pyfront.cint import literal_type, result_range, c_binop
from pyebpf.compiler.pyfront.values import Int, Mem, Obj, Ptr, Value, kind_of, KRef
from pyebpf.compiler.types import S64, U64, IntType, PtrType, common_type, int_type_of_ctype, promote


class ArithMixin:
    """Integers with C semantics of `PythonFrontEnd` (a mixin; the state lives in frontend.py)."""

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
        if isinstance(v, KRef):
            raise self.err(node, f"a kernel {v.type.c_type()} is not an integer",
                           hint="read one of its fields, or kstr() a char array")
        if isinstance(v, Obj) and isinstance(v.value, IntType):
            raise self.err(node, f"{v.value.name} is a type", hint=f"cast a value with {v.value.name}(x)")
        raise self.err(node, f"expected an integer, got a {kind_of(v)}")

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
            t = promote(a.t) if a.t is not None else literal_type(a.op)  # type: ignore[arg-type]
        else:
            ta = a.t or literal_type(a.op)  # type: ignore[arg-type]
            tb = b.t or literal_type(b.op)  # type: ignore[arg-type]
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
        rng = result_range(op, av.bounds(), bv.bounds())
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
