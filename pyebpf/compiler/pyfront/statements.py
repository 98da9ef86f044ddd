"""Statements of the probe subset: assignment, if, for/while, break/continue, return, del."""
from __future__ import annotations

import ast

from pyebpf.abi.helpers import HelperId
from pyebpf.abi.maps import ARRAY_TYPES
from pyebpf.compiler.ir import Call, MapRef, Mov, Return, VReg
from pyebpf.compiler.pyfront.cint import literal_type
from pyebpf.compiler.pyfront.hints import BINOPS, STMT_HINTS, binop_hint
from pyebpf.compiler.pyfront.values import MAX_RANGE, is_bound, Ctx, CtxArray, Int, Mem, Obj, Ptr, kind_of, KRef
from pyebpf.compiler.types import S64, U32, IntType, common_type, promote


class StatementsMixin:
    """Statements of the probe subset of `PythonFrontEnd` (a mixin; the state lives in frontend.py)."""

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
                           hint=STMT_HINTS.get(type(s).__name__, "see docs/probes.md for the supported subset"))
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
        if self.in_loop_body:  # the body of a loop compiled to a bpf_loop callback (pyfront/loops.py)
            self.loop_body_return(s)
            return
        if f.ret_block is None:  # the probe itself: r0
            if s.value is None:
                self.ir.terminate(Return(self.default_return))
                return
            v = self.as_int(self.expr(s.value), s.value)
            if self.in_subprogram:  # a subprogram returns its declared type in r0
                v = self.convert(v, self.ret_type)
            self.ir.terminate(Return(v.op))
            return
        if s.value is not None:
            v = self.as_int(self.expr(s.value), s.value)
            if f.ret_var is None:
                t = f.ret_type or (promote(v.t) if v.t else literal_type(v.op))  # type: ignore[arg-type]
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
        if isinstance(value, (Mem, Ctx, Obj, Ptr, CtxArray, KRef)) and annotation is None:
            if existing is not None and not (type(existing) is type(value)):
                raise self.err(target, f"{name!r} already holds a {kind_of(existing)}; it cannot become a "
                                       f"{kind_of(value)}", hint="use a new name")
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
            if existing.kdirect and not v.kdirect:  # the verifier would see a scalar where it read a BTF pointer
                raise self.err(target, f"{name!r} holds a kernel pointer the verifier tracks (read with plain "
                                       "loads); it cannot become another value", hint="use a new name")
            self.assign_int(existing, v, value_node)
        elif existing is not None:
            raise self.err(target, f"{name!r} holds a {kind_of(existing)}; it cannot become an integer",
                           hint="use a new name")
        else:
            t = annotation or (promote(v.t) if v.t is not None else literal_type(v.op))  # type: ignore[arg-type]
            var = Int(self.ir.vreg(t, name), t, kt=v.kt if t.size == 8 else None,
                      kdirect=v.kdirect and t.size == 8 and annotation is None)
            self.assign_int(var, v, value_node, fresh=True)
            f.vars[name] = var
        f.assigned.add(name)

    def assign_int(self, var: Int, v: Int, node: ast.AST, fresh: bool = False) -> None:
        """var = v, converted to var's type as C converts on assignment."""
        assert isinstance(var.op, VReg) and var.t is not None
        conv = self.convert(v, var.t)
        if isinstance(conv.op, VReg) and self._last_def is not None and self._last_def[1] is conv.op \
                and conv.op.name == "" and not is_bound(self.frame, conv.op):
            self._last_def[0].dst = var.op  # compute straight into the variable
            self.var_redefined(var.op)
            self._last_def = None
            return
        self.ir.emit(Mov(var.op, conv.op))

    def s_AugAssign(self, s: ast.AugAssign) -> None:
        op = BINOPS.get(type(s.op))
        if op is None:
            raise self.err(s, f"operator {type(s.op).__name__} is not supported", hint=binop_hint(s.op))
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
        self._last_membership = None
        self.cond(s.test, then_b, else_b if s.orelse else done)
        known = self._last_membership  # `if k in m:` — m[k] exists in the then-branch
        before = set(self.frame.assigned)
        results: list[set[str] | None] = []
        self.ir.set_block(then_b)
        with self.lookup_scope():
            if known is not None and isinstance(s.test, ast.Compare) and len(s.test.ops) == 1 \
                    and isinstance(s.test.ops[0], ast.In):
                self.remember_lookup(*known, True)
            self.body(s.body)
        results.append(None if self.ir.terminated else set(self.frame.assigned))
        self.ir.jump(done)
        self.frame.assigned = set(before)
        if s.orelse:
            self.ir.set_block(else_b)
            with self.lookup_scope():
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
        ts = [b.t for b in (start, stop) if b.t is not None]
        t = S64 if not ts else (common_type(*ts) if len(ts) == 2 else promote(ts[0]))
        if not ts and start.const is not None and start.const >= 0 and stop.const is not None \
                and stop.const <= 0xFFFFFFFF:
            t = U32
        f = self.frame
        name = s.target.id
        if name in f.vars and not isinstance(f.vars[name], Int):
            raise self.err(s.target, f"{name!r} is not an integer")
        strategy = self.loop_strategy(s, name, start, stop, step.const)
        if strategy == "bpf_loop":
            self.for_bpf_loop(s, name, t, start, stop, step.const)
            return
        if strategy == "bounded" and start.const is not None and stop.const is not None \
                and abs(stop.const - start.const) // abs(step.const) > MAX_RANGE:
            raise self.err(it, f"this loop runs more than {MAX_RANGE} times", hint="the verifier walks every "
                                                                                  "iteration; use a smaller bound")
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
        if strategy == "may_goto":  # the kernel ends the loop when its budget runs out (pyfront/loops.py)
            test = self.ir.new_block("fortest")
            self.ir.branch("may_goto", 0, 0, done, test)
            self.ir.set_block(test)
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
