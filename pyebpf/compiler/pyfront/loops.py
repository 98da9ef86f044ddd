"""`for i in range(...)` loops the verifier cannot walk iteration by iteration: bpf_loop or may_goto.

A loop whose trip count is a small constant (or bounded small by what the front end proved about `n`) stays a
bounded loop, which the kernel verifies by walking it. A loop over a large or unknown count is compiled by the
target's features (`PythonFrontEnd.loop_features`, from the kernel release the probe is compiled for):

- `bpf_loop` (Linux 5.17): the body becomes a callback subprogram `long cb(u64 index, void *ctx)`, which the
  verifier checks once. The probe's integer locals the body uses live in a stack record whose address is the
  callback's ctx (PTR_TO_STACK of the caller's frame): stored before the call, loaded by the callback on entry,
  written back by it at `continue`/the end of an iteration (return 0) and at `break` (return 1), and loaded again
  after the loop. `return` in the body stores a flag and the value and stops the loop; the probe returns it after
  bpf_loop. The body may use maps, helpers, structs of its own and subprograms, but no probe local other than an
  integer (a struct on the probe's stack, `ctx`): such a loop falls back to the next strategy.
- `may_goto` (Linux 6.9): the bounded loop with a `may_goto` at its head, so the verifier stops walking when the
  loop states converge and the kernel ends the loop after its budget (BPF_MAX_LOOPS iterations per frame).
- otherwise the bounded loop, which the verifier must be able to walk to the end (its rejection is reported at the
  loop's line).

bpf_loop runs at most BPF_MAX_LOOPS (1 << 23) iterations: with a larger count it runs none and returns -E2BIG;
a constant count above that is a CompileError.
"""
from __future__ import annotations

import ast
from typing import Any

from pyebpf.abi.helpers import HelperId
from pyebpf.abi.uapi import BPF_MAX_LOOPS
from pyebpf.compiler.ir import Alu, FuncRef, IRBuilder, Load, Mov, Param, Return, SlotAddr, Store
from pyebpf.compiler.pyfront.values import Frame, Int
from pyebpf.compiler.types import S64, U64, IntType, PtrType

#: a loop with at most this many iterations stays a bounded loop (the verifier walks it; clang unrolls or keeps it)
SMALL_LOOP = 1024
#: features a target kernel may offer for loops
LOOP_FEATURES = frozenset({"bpf_loop", "may_goto"})
#: the release that added bpf_loop (may_goto's is isa.features.IsaFeature.MAY_GOTO)
BPF_LOOP_SINCE = (5, 17)
_FLAG, _RETV, _START = 0, 8, 16  # the record's header: return flag, return value, range start; then the locals


def _names(body: list[ast.stmt]) -> tuple[list[str], set[str], bool]:
    """(names the body mentions in order, names it assigns, whether it has a `return`)."""
    seen: dict[str, None] = {}
    stored: set[str] = set()
    has_return = False
    for stmt in body:
        for node in ast.walk(stmt):
            if isinstance(node, ast.Name):
                seen.setdefault(node.id, None)
                if isinstance(node.ctx, ast.Store):
                    stored.add(node.id)
            elif isinstance(node, ast.Return):
                has_return = True
    return list(seen), stored, has_return


class LoopsMixin:
    """bpf_loop / may_goto lowering of `for` loops for `PythonFrontEnd` (a mixin; the state lives in frontend.py)."""

    loop_features: frozenset[str] = LOOP_FEATURES
    loop_exit: Any = None
    """In a bpf_loop callback: the VReg holding the record's address (where `return` stores its value)."""

    def loop_strategy(self, s: ast.For, name: str, start: Int, stop: Int, step: int) -> str:
        """"bounded", "bpf_loop" or "may_goto" for `for name in range(start, stop, step)` (see the module doc)."""
        lo_a, hi_a = start.bounds()
        lo_b, hi_b = stop.bounds()
        most = (hi_b - lo_a) if step > 0 else (hi_a - lo_b)
        trips = max(0, -(-most // abs(step)))
        if trips <= SMALL_LOOP:
            return "bounded"
        if "bpf_loop" in self.loop_features and self._capturable(s, name) is not None:
            return "bpf_loop"
        if "may_goto" in self.loop_features:
            return "may_goto"
        return "bounded"

    def _capturable(self, s: ast.For, name: str) -> list[str] | None:
        """The probe locals the body uses (all integers), or None when one is not an integer."""
        f = self.frame
        mentioned, _, _ = _names(s.body)
        out = []
        for n in mentioned:
            if n == name or n not in f.vars:
                continue
            if not isinstance(f.vars[n], Int):
                return None
            if n in f.assigned:
                out.append(n)
        return out

    def for_bpf_loop(self, s: ast.For, name: str, t: IntType, start: Int, stop: Int, step: int) -> None:
        """The loop as bpf_loop(trips, &callback, &record, 0) (see the module doc)."""
        f = self.frame
        captured = self._capturable(s, name) or []
        _, stored, has_return = _names(s.body)
        offs = {n: _START + 8 + 8 * k for k, n in enumerate(captured)}
        slot = self.ir.slot(_START + 8 + 8 * len(captured), 8, "forctx")
        for off in (_FLAG, _RETV):
            self.ir.emit(Store(slot, off, 0, 8))
        start_v = self.convert(start, t)
        self.ir.emit(Store(slot, _START, start_v.op, 8))
        for n in captured:
            self.ir.emit(Store(slot, offs[n], f.vars[n].op, 8))  # type: ignore[union-attr]
        trips = self._trip_count(t, start_v, self.convert(stop, t), step, s)
        cb = self._loop_callback(s, name, t, step, captured, offs)
        self.helper(HelperId.LOOP, [trips, FuncRef(cb.ir.fn.name), SlotAddr(slot), 0], S64)
        for n in captured:
            if n in stored:
                v = f.vars[n]
                self.def_(Load(v.op, slot, offs[n], 8, False), v.op)  # type: ignore[union-attr, arg-type]
        if has_return:
            self._return_after_loop(slot, cb)

    def _trip_count(self, t: IntType, start: Int, stop: Int, step: int, node: ast.AST) -> Any:
        """max(0, ceil((stop - start) / step)) as a u64 VReg (a constant when both ends are)."""
        if start.const is not None and stop.const is not None:
            n = max(0, -(-(stop.const - start.const) // step))
            if n > BPF_MAX_LOOPS:
                raise self.err(node, f"this loop runs {n} times, more than the {BPF_MAX_LOOPS} bpf_loop runs at most",
                               hint="split the work, or keep state in a map across several probe runs")
            return n
        n = self.ir.vreg(U64)
        self.ir.emit(Mov(n, 0))
        more, done = self.ir.new_block("trips"), self.ir.new_block("tripsdone")
        lo, hi = (start, stop) if step > 0 else (stop, start)
        self.ir.branch("slt" if t.signed else "lt", lo.op, hi.op, more, done)
        self.ir.set_block(more)
        self.ir.emit(Mov(n, hi.op) if lo.const == 0 else Alu("sub", n, hi.op, lo.op))
        if abs(step) != 1:
            self.ir.emit(Alu("add", n, n, abs(step) - 1))
            self.ir.emit(Alu("div", n, n, abs(step)))
        self.ir.jump(done)
        self.ir.set_block(done)
        return n

    def _loop_callback(self, s: ast.For, name: str, t: IntType, step: int, captured: list[str],
                       offs: dict[str, int]) -> Any:
        """Compile the body as `long cb(u64 index, void *record)`; registered with the probe's subprograms."""
        f = self.frame
        base = f"{self.ir.fn.name}_for{f.first_line + s.lineno - 1}"
        names = {x.ir.fn.name for x in self.subprograms.values()}
        cname = base
        while cname in names or cname == self.ir.fn.name:
            cname += "_"
        sub = type(self)(self.fn, None, 0, self.map_namer, self.prog_kind, self.cpu_v4, self.kernel)
        sub.ir = IRBuilder(cname)
        sub.ir.on_emit = sub.watch_emit
        sub.maps, sub.map_objects, sub.rodata = self.maps, self.map_objects, self.rodata
        sub.subprograms, sub._compiling, sub.in_subprogram = self.subprograms, self._compiling, True
        sub.loop_features = self.loop_features
        sub.ret_type, sub.param_types = S64, [U64, U64]
        frame = Frame(f.globals, f.filename, f.first_line, f.col_shift, f.lines, name=f.name, fn=f.fn)
        sub.frames.append(frame)
        sub.at(s)
        index = sub.ir.vreg(U64, "index")
        sub.ir.emit(Param(index, 1))
        record = sub.ir.vreg(PtrType("stack"), "record")
        sub.ir.emit(Param(record, 2))
        sub.loop_exit = (record, self._loop_return_type())
        for n in captured:
            v = f.vars[n]
            local = sub.ir.vreg(v.t, n)  # type: ignore[union-attr]
            sub.def_(Load(local, record, offs[n], 8, False), local)
            frame.vars[n] = Int(local, v.t, kt=v.kt)  # type: ignore[union-attr]
            frame.assigned.add(n)
        i = sub.ir.vreg(t, name)
        sub.ir.emit(Load(i, record, _START, 8, False))
        scaled = sub.ir.vreg(U64)
        sub.ir.emit(Alu("mul", scaled, index, step) if step != 1 else Mov(scaled, index))
        sub.ir.emit(Alu("add", i, i, scaled))
        frame.vars[name] = Int(i, t)
        frame.assigned.add(name)
        cont, stop = sub.ir.new_block("fornext"), sub.ir.new_block("forbreak")
        frame.loops.append((cont, stop))
        sub.body(s.body)
        if not sub.ir.terminated:
            sub.ir.jump(cont)
        _, stored, _ = _names(s.body)
        for block, verdict in ((cont, 0), (stop, 1)):
            sub.ir.set_block(block)
            for n in captured:
                if n in stored:
                    sub.ir.emit(Store(record, offs[n], frame.vars[n].op, 8))  # type: ignore[union-attr]
            sub.ir.terminate(Return(verdict))
        sub.frames.pop()
        self.subprograms[("for", len(self.subprograms))] = sub
        return sub

    def _loop_return_type(self) -> IntType:
        """The type a `return v` in a bpf_loop body converts v to: what the enclosing function returns."""
        f = self.frame
        if f.ret_block is not None:
            return f.ret_var.t if f.ret_var is not None else (f.ret_type or S64)  # type: ignore[return-value]
        if self.in_loop_body:  # a loop in a loop body: the outer callback passes the value on
            return self.loop_exit[1]
        return self.ret_type if self.in_subprogram else S64

    @property
    def in_loop_body(self) -> bool:
        """Compiling a bpf_loop callback's own statements (not a function inlined into it)."""
        return self.loop_exit is not None and len(self.frames) == 1

    def loop_body_return(self, s: ast.Return) -> None:
        """`return [v]` inside a bpf_loop callback: flag (1: a value, 2: the default) and value, then stop."""
        record, rtype = self.loop_exit
        if s.value is None:
            self.ir.emit(Store(record, _FLAG, 2, 8))
        else:
            v = self.convert(self.as_int(self.expr(s.value), s.value), rtype)
            self.ir.emit(Store(record, _RETV, v.op, 8))
            self.ir.emit(Store(record, _FLAG, 1, 8))
        self.ir.terminate(Return(1))

    def _return_after_loop(self, slot: Any, cb: Any) -> None:
        """After bpf_loop: when the body returned, return its value from the enclosing function."""
        f = self.frame
        flag = self.ir.vreg(U64)
        self.ir.emit(Load(flag, slot, _FLAG, 8, False))
        ret, go_on = self.ir.new_block("forret"), self.ir.new_block("forgo")
        self.ir.branch("ne", flag, 0, ret, go_on)
        self.ir.set_block(ret)
        rtype = cb.loop_exit[1]
        value = self.ir.vreg(rtype)
        self.ir.emit(Load(value, slot, _RETV, 8, False))
        if self.in_loop_body:  # pass it on to the loop around this one
            record = self.loop_exit[0]
            self.ir.emit(Store(record, _RETV, value, 8))
            self.ir.emit(Store(record, _FLAG, flag, 8))
            self.ir.terminate(Return(1))
        elif f.ret_block is not None:
            if f.ret_var is None:
                f.ret_var = Int(self.ir.vreg(rtype, "ret"), rtype)
            self.ir.emit(Mov(f.ret_var.op, value))  # type: ignore[arg-type]
            self.ir.jump(f.ret_block)
        else:
            default, given = self.ir.new_block("fordef"), self.ir.new_block("forval")
            self.ir.branch("eq", flag, 2, default, given)
            self.ir.set_block(default)
            self.ir.terminate(Return(self.default_return))
            self.ir.set_block(given)
            self.ir.terminate(Return(value))
        self.ir.set_block(go_on)


__all__ = ["LoopsMixin", "SMALL_LOOP", "LOOP_FEATURES", "BPF_LOOP_SINCE"]
