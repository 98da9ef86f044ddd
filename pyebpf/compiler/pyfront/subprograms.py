"""bpf-to-bpf subprograms: a module function marked `@noinline` is compiled once, as a function of its own after
the probe (its own stack frame, registers r6-r9 saved by the kernel), and called with `call pc+off` instead of
being inlined at every call. Integer parameters (at most five, in r1-r5) and an integer result (r0): the
annotations give their types (s64 when absent); maps, helpers and other subprograms are usable inside."""
from __future__ import annotations

import ast
from typing import Any

from pyebpf.abi.helpers import HelperId
from pyebpf.compiler.ir import FuncRef, IRBuilder, LocalCall, Param, Return
from pyebpf.compiler.pyfront.source import parse_function
from pyebpf.compiler.pyfront.values import Frame, Int
from pyebpf.compiler.types import S64, U32, U64, IntType

MAX_ARGS = 5  # r1-r5
MAX_SUBPROGRAMS = 64


def is_subprogram(fn: Any) -> bool:
    return bool(getattr(fn, "__probe_noinline__", False))


class SubprogramsMixin:
    """bpf-to-bpf subprograms of `PythonFrontEnd` (a mixin; the state lives in frontend.py)."""

    def local_call(self, node: ast.Call, fn: Any) -> Int:
        """fn(args...) as a bpf-to-bpf call of fn's subprogram (compiled on first use)."""
        if node.keywords or len(node.args) > MAX_ARGS:
            raise self.err(node, f"a subprogram takes at most {MAX_ARGS} positional arguments (r1-r5)")
        values = [self.as_int(self.expr(a), a) for a in node.args]
        sub = self.subprogram(fn, node, [v.kt for v in values])
        if len(node.args) != len(sub.param_types):
            raise self.err(node, f"{fn.__name__}() takes {len(sub.param_types)} arguments, {len(node.args)} given")
        args = []
        for a, v, t, kt in zip(node.args, values, sub.param_types, sub.param_kts):
            if kt is not None and (v.kt is None or v.kt.resolve() != kt.resolve()):
                raise self.err(a, f"{fn.__name__}() takes a kernel {kt.resolve().c_type()} * here, not "
                                  f"{'a ' + v.kt.resolve().c_type() + ' *' if v.kt is not None else 'an integer'}",
                               hint='pass a pointer of that type, or cast with kptr(p, "struct NAME")')
            args.append(self.convert(v, t).op)
        ret_t: IntType = sub.ret_type
        d = self.ir.vreg(ret_t)
        self.ir.emit(LocalCall(-1, args, d, target=sub.ir.fn.name))
        self._last_def = None
        return Int(d, ret_t)

    def i_loop(self, node: ast.Call) -> Int:
        """loop(n, body): bpf_loop(n, &body, NULL, 0) — body(i) runs for i = 0..n-1 as a callback subprogram
        (returning 1 stops early, 0 goes on), so the verifier checks it once instead of walking n iterations;
        the result is the number of iterations done (negative errno when n exceeds 1 << 23)."""
        import inspect

        if len(node.args) != 2 or node.keywords:
            raise self.err(node, "loop(n, body) takes a count and a module function body(i)",
                           hint="def body(i: u32) -> s64: ... return 0 (go on) or 1 (stop)")
        fn = self.resolve_static(node.args[1]) if isinstance(node.args[1], (ast.Name, ast.Attribute)) else None
        if not inspect.isfunction(fn):
            raise self.err(node.args[1], "loop()'s body must be a function of the module")
        n = self.convert(self.as_int(self.expr(node.args[0]), node.args[0]), U32)
        sub = self.subprogram(fn, node.args[1])
        if len(sub.param_types) > 1:
            raise self.err(node.args[1], f"{fn.__name__}() takes the iteration index only (a callback gets no "
                                         "locals of the probe: keep state in a map)")
        return self.helper(HelperId.LOOP, [n.op, FuncRef(sub.ir.fn.name), 0, 0], S64)

    def subprogram(self, fn: Any, node: ast.AST, arg_kts: list[Any] | None = None) -> Any:
        """fn's subprogram, compiled on first use; `arg_kts`: the kernel types the first call's arguments point to
        (an unannotated parameter given a kernel pointer becomes one, fields readable)."""
        registry: dict[Any, Any] = self.subprograms
        sub = registry.get(fn)
        if sub is not None:
            return sub
        if fn in self._compiling:
            raise self.err(node, f"{fn.__name__}() calls itself: recursion is not possible in eBPF")
        if len(registry) >= MAX_SUBPROGRAMS:
            raise self.err(node, f"more than {MAX_SUBPROGRAMS} subprograms")
        names = {s.ir.fn.name for s in registry.values()}
        name = fn.__name__
        while name in names or name == self.ir.fn.name:
            name += "_"
        sub = type(self)(fn, None, 0, self.map_namer, self.prog_kind, self.cpu_v4, self.kernel)
        sub.ir = IRBuilder(name)
        sub.ir.on_emit = sub.watch_emit
        sub.maps, sub.map_objects, sub.rodata = self.maps, self.map_objects, self.rodata
        sub.subprograms, sub._compiling, sub.in_subprogram = registry, self._compiling, True
        sub.arg_kts = list(arg_kts or [])
        self._compiling.add(fn)
        try:
            sub.compile_subprogram()
        finally:
            self._compiling.discard(fn)
        registry[fn] = sub
        return sub

    def compile_subprogram(self) -> None:
        fdef, filename, first, shift, lines = parse_function(self.fn)
        frame = Frame(dict(getattr(self.fn, "__globals__", {})), filename, first, shift, lines, name=fdef.name,
                      fn=self.fn)
        self.frames.append(frame)
        a = fdef.args
        if a.vararg or a.kwarg or a.kwonlyargs or a.posonlyargs or a.defaults or len(a.args) > MAX_ARGS:
            raise self.err(fdef, f"a subprogram takes at most {MAX_ARGS} plain positional parameters")
        ret = fdef.returns
        self.ret_type = S64 if ret is None or (isinstance(ret, ast.Constant) and ret.value is None) \
            else self.type_of_annotation(ret)
        self.param_types = []
        self.param_kts = []
        given = getattr(self, "arg_kts", [])
        for i, arg in enumerate(a.args):
            kt = self.kernel_param_type(arg.annotation) if arg.annotation is not None else \
                (given[i] if i < len(given) else None)
            if kt is not None:
                t = U64
            else:
                t = self.type_of_annotation(arg.annotation) if arg.annotation is not None else S64
            v = self.ir.vreg(t, arg.arg)
            self.ir.emit(Param(v, i + 1))
            frame.vars[arg.arg] = Int(v, t, kt=kt)
            frame.assigned.add(arg.arg)
            self.param_types.append(t)
            self.param_kts.append(kt)
        self.body(fdef.body)
        if not self.ir.terminated:
            self.ir.terminate(Return(0))
        self.frames.pop()


    def kernel_param_type(self, ann: ast.expr) -> Any:
        """The kernel type of a parameter annotated "struct NAME *" (a string), else None (an integer type)."""
        if not (isinstance(ann, ast.Constant) and isinstance(ann.value, str)):
            return None
        text = ann.value.strip()
        if not text.endswith("*"):
            raise self.err(ann, f"annotation {text!r}: a kernel pointer parameter is written \"struct NAME *\"")
        return self.kernel_struct_type(text[:-1].strip(), ann)


__all__ = ["SubprogramsMixin", "is_subprogram"]
